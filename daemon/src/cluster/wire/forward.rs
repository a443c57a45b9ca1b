//! Forwarded single messages and their answers: a node that takes a cmd 10
//! for a user another node owns sends the owner a [`Submit`]; the owner
//! numbers, stores and delivers it, and sends the cmd 20 ack or cmd 21
//! error back as a [`Reply`] to exactly the connection that sent it.
//!
//! A submit is the sender uid (i64), the sending connection's [`ConnTag`]
//! (10 bytes), the payload length (u16, ≥ 1) and the client's JSON object.
//! A reply is the [`ConnTag`], the frame length (u16, ≥ 1) and the
//! WebSocket frame, written to that connection as-is. Both are batched like
//! deliver items. A submit too large for one datagram travels as fragments
//! whose target is [`Target::Submit`](super::Target::Submit) (the sender) and whose bytes are
//! [`Submit::whole`]; a reply (a short ack or error) always fits one.

use bytes::{BufMut, Bytes};

use super::drop_reason::DropReason;
use super::reader::Reader;

/// A connection on the node that forwarded a message, as that node names
/// it; opaque to every other node, which only hands it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnTag {
    /// The core holding the connection.
    pub core: u16,
    /// Its slab key on that core.
    pub key: u32,
    /// Its generation on that core.
    pub id: u32,
    /// The forwarding node's number for the message, so that its answer is
    /// matched to it exactly (client message ids may repeat).
    pub message: u32,
}

impl ConnTag {
    /// Encoded size.
    pub const LEN: usize = 14;

    fn put(&self, out: &mut impl BufMut) {
        out.put_u16(self.core);
        out.put_u32(self.key);
        out.put_u32(self.id);
        out.put_u32(self.message);
    }

    fn read(r: &mut Reader<'_>) -> Result<ConnTag, DropReason> {
        Ok(ConnTag {
            core: r.u16()?,
            key: r.u32()?,
            id: r.u32()?,
            message: r.u32()?,
        })
    }
}

/// A client's cmd 10 for a user the receiving node owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submit {
    /// The authenticated sender.
    pub sender: i64,
    /// The sending connection, for the reply.
    pub conn: ConnTag,
    /// The client's JSON object, as it arrived.
    pub payload: Bytes,
}

impl Submit {
    /// Bytes of a submit before its payload.
    pub const HEADER: usize = 8 + ConnTag::LEN + 2;

    /// Encoded size of a submit carrying `payload_len` bytes.
    pub fn encoded_len(payload_len: usize) -> usize {
        Self::HEADER + payload_len
    }

    /// Appends the submit; the payload must be 1 to 65,535 bytes (the outbox
    /// checks it against one datagram first).
    pub(super) fn put(&self, out: &mut impl BufMut) {
        let len = u16::try_from(self.payload.len()).expect("payload fits a submit");
        out.put_i64(self.sender);
        self.conn.put(out);
        out.put_u16(len);
        out.put_slice(&self.payload);
    }

    /// The submit as one fragmented message carries it, after a
    /// [`Target::Submit`](super::Target::Submit) naming the sender: the connection tag, then the
    /// payload (one copy, made only for a submit too large for a datagram).
    pub fn whole(&self) -> Bytes {
        let mut out = Vec::with_capacity(ConnTag::LEN + self.payload.len());
        self.conn.put(&mut out);
        out.extend_from_slice(&self.payload);
        Bytes::from(out)
    }

    /// The submit of `sender` that [`Submit::whole`] made `bytes` of; a
    /// missing tag or an empty payload is malformed.
    pub fn from_whole(sender: i64, bytes: Bytes) -> Result<Submit, DropReason> {
        if bytes.len() <= ConnTag::LEN {
            return Err(DropReason::Malformed);
        }
        let conn = ConnTag::read(&mut Reader::new(&bytes))?;
        Ok(Submit {
            sender,
            conn,
            payload: bytes.slice(ConnTag::LEN..),
        })
    }

    /// Every submit of a body: at least one, none empty, nothing left over.
    pub(super) fn read_all(body: &Bytes) -> Result<Vec<Submit>, DropReason> {
        read_items(body, |r| Ok((r.i64()?, ConnTag::read(r)?))).map(|v| {
            v.into_iter()
                .map(|((sender, conn), payload)| Submit {
                    sender,
                    conn,
                    payload,
                })
                .collect()
        })
    }
}

/// A frame (cmd 20 or cmd 21) for one connection of the receiving node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The connection, as the receiving node named it in its submit.
    pub conn: ConnTag,
    /// The WebSocket frame.
    pub frame: Bytes,
}

impl Reply {
    /// Bytes of a reply before its frame.
    pub const HEADER: usize = ConnTag::LEN + 2;

    /// Encoded size of a reply carrying a frame of `frame_len` bytes.
    pub fn encoded_len(frame_len: usize) -> usize {
        Self::HEADER + frame_len
    }

    /// Appends the reply; the frame must be 1 to 65,535 bytes.
    pub(super) fn put(&self, out: &mut impl BufMut) {
        let len = u16::try_from(self.frame.len()).expect("frame fits a reply");
        self.conn.put(out);
        out.put_u16(len);
        out.put_slice(&self.frame);
    }

    /// Every reply of a body: at least one, none empty, nothing left over.
    pub(super) fn read_all(body: &Bytes) -> Result<Vec<Reply>, DropReason> {
        read_items(body, ConnTag::read).map(|v| {
            v.into_iter()
                .map(|(conn, frame)| Reply { conn, frame })
                .collect()
        })
    }
}

/// Reads items of a fixed head (by `head`), a u16 length (≥ 1) and that many
/// bytes (sliced from `body`, not copied) until the body ends.
fn read_items<T>(
    body: &Bytes,
    head: impl Fn(&mut Reader<'_>) -> Result<T, DropReason>,
) -> Result<Vec<(T, Bytes)>, DropReason> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        let h = head(&mut r)?;
        let len = usize::from(r.u16()?);
        if len == 0 {
            return Err(DropReason::Malformed);
        }
        let at = body.len() - r.remaining();
        r.bytes(len)?;
        out.push((h, body.slice(at..at + len)));
    }
    if out.is_empty() {
        return Err(DropReason::Malformed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONN: ConnTag = ConnTag {
        core: 3,
        key: 0x0102_0304,
        id: 9,
        message: 7,
    };

    fn submit(payload: &'static [u8]) -> Submit {
        Submit {
            sender: -7,
            conn: CONN,
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn submits_round_trip_in_order() {
        let (a, b) = (submit(br#"{"cmd":10,"dstid":2}"#), submit(b"{}"));
        let mut buf = Vec::new();
        a.put(&mut buf);
        b.put(&mut buf);
        assert_eq!(buf.len(), Submit::encoded_len(20) + Submit::encoded_len(2));
        assert_eq!(Submit::read_all(&Bytes::from(buf)).unwrap(), vec![a, b]);
    }

    #[test]
    fn a_whole_submit_round_trips_and_a_short_one_is_refused() {
        let s = submit(br#"{"cmd":10}"#);
        assert_eq!(Submit::from_whole(-7, s.whole()).unwrap(), s);
        let tag_only = Bytes::from(s.whole()[..ConnTag::LEN].to_vec());
        assert_eq!(Submit::from_whole(-7, tag_only), Err(DropReason::Malformed));
    }

    #[test]
    fn replies_round_trip_in_order() {
        let r = Reply {
            conn: CONN,
            frame: Bytes::from_static(b"\x81\x02{}"),
        };
        let mut buf = Vec::new();
        r.put(&mut buf);
        r.put(&mut buf);
        assert_eq!(&buf[..6], &[0, 3, 1, 2, 3, 4]);
        assert_eq!(
            Reply::read_all(&Bytes::from(buf)).unwrap(),
            vec![r.clone(), r]
        );
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let mut good = Vec::new();
        submit(b"{}").put(&mut good);
        let bad: Vec<Vec<u8>> = vec![
            Vec::new(),
            good[..good.len() - 1].to_vec(),
            [good.clone(), vec![0]].concat(),
            {
                let mut empty = good[..Submit::HEADER].to_vec();
                empty[Submit::HEADER - 2..].copy_from_slice(&[0, 0]);
                empty
            },
        ];
        for body in bad {
            let body = Bytes::from(body);
            assert_eq!(
                Submit::read_all(&body),
                Err(DropReason::Malformed),
                "{body:?}"
            );
        }
        assert_eq!(
            Reply::read_all(&Bytes::from_static(&[0; Reply::HEADER])),
            Err(DropReason::Malformed),
            "an empty frame"
        );
        assert_eq!(
            Reply::read_all(&Bytes::from_static(&[0; 5])),
            Err(DropReason::Malformed)
        );
    }
}
