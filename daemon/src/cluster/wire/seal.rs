//! Sealing a datagram (header in front, tag behind) and opening one (every
//! framing check and the MAC, before any field is trusted).

use bytes::{Bytes, BytesMut};

use super::drop_reason::DropReason;
use super::header::{
    Header, Kind, NodeId, HEADER_LEN, MAC_LEN, MAGIC, MAX_DATAGRAM, OVERHEAD, VERSION,
};
use super::mac::Key;

/// A buffer for one datagram: [`HEADER_LEN`] bytes reserved for the header,
/// room for `body` body bytes and the tag.
pub fn datagram_buf(body: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(OVERHEAD + body);
    buf.resize(HEADER_LEN, 0);
    buf
}

/// Seals datagrams as one node under one incarnation.
#[derive(Clone, Debug)]
pub struct Sealer {
    key: Key,
    me: NodeId,
    incarnation: u64,
}

impl Sealer {
    /// A sealer for node `me`; `incarnation` is the node's start time in
    /// Unix milliseconds (it must grow across restarts, and receivers compare
    /// it with their own).
    pub fn new(key: Key, me: NodeId, incarnation: u64) -> Sealer {
        assert!(incarnation > 0, "incarnation 0 is reserved for 'none seen'");
        Sealer {
            key,
            me,
            incarnation,
        }
    }

    /// This node's incarnation.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Writes the header into `buf`'s reserved front (from [`datagram_buf`],
    /// body appended), appends the tag and freezes it. The body must keep the
    /// datagram within [`MAX_DATAGRAM`].
    pub fn seal(&self, kind: Kind, dest: NodeId, seq: u64, mut buf: BytesMut) -> Bytes {
        let body_len = buf.len() - HEADER_LEN;
        assert!(
            body_len + OVERHEAD <= MAX_DATAGRAM,
            "datagram body of {body_len} bytes"
        );
        let header = Header {
            kind: kind as u8,
            body_len: body_len as u16,
            sender: self.me,
            dest,
            incarnation: self.incarnation,
            seq,
        };
        buf[..HEADER_LEN].copy_from_slice(&header.to_bytes());
        let tag = self.key.tag(&buf);
        buf.extend_from_slice(&tag);
        buf.freeze()
    }
}

/// Checks size, magic, version, declared length and MAC, in that order, and
/// returns the header and the body (a slice of `datagram`, no copy).
pub fn open(key: &Key, datagram: &Bytes) -> Result<(Header, Bytes), DropReason> {
    let len = datagram.len();
    if !(OVERHEAD..=MAX_DATAGRAM).contains(&len) {
        return Err(DropReason::Size);
    }
    let head: &[u8; HEADER_LEN] = datagram[..HEADER_LEN].try_into().expect("length checked");
    if head[..4] != MAGIC {
        return Err(DropReason::Magic);
    }
    if head[4] != VERSION {
        return Err(DropReason::Version);
    }
    let header = Header::from_bytes(head);
    if usize::from(header.body_len) != len - OVERHEAD {
        return Err(DropReason::Size);
    }
    let (signed, tag) = datagram.split_at(len - MAC_LEN);
    if !key.verify(signed, tag) {
        return Err(DropReason::Mac);
    }
    Ok((header, datagram.slice(HEADER_LEN..len - MAC_LEN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(Key::new(b"cluster-secret-16").unwrap(), 3, 77)
    }

    fn sealed(body: &[u8]) -> Bytes {
        let mut buf = datagram_buf(body.len());
        buf.extend_from_slice(body);
        sealer().seal(Kind::Deliver, 5, 42, buf)
    }

    #[test]
    fn opens_what_it_sealed() {
        let d = sealed(b"body bytes");
        assert_eq!(d.len(), OVERHEAD + 10);
        let (h, body) = open(&Key::new(b"cluster-secret-16").unwrap(), &d).unwrap();
        assert_eq!(
            (h.kind, h.sender, h.dest, h.incarnation, h.seq),
            (1, 3, 5, 77, 42)
        );
        assert_eq!(&body[..], b"body bytes");
    }

    #[test]
    fn flipping_any_bit_of_any_byte_is_refused() {
        let key = Key::new(b"cluster-secret-16").unwrap();
        let d = sealed(b"0123456789");
        for i in 0..d.len() {
            for bit in 0..8 {
                let mut t = d.to_vec();
                t[i] ^= 1 << bit;
                let r = open(&key, &Bytes::from(t));
                let want = match i {
                    0..=3 => DropReason::Magic,
                    4 => DropReason::Version,
                    6 | 7 => DropReason::Size,
                    _ => DropReason::Mac,
                };
                assert_eq!(r.unwrap_err(), want, "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn size_checks() {
        let key = Key::new(b"cluster-secret-16").unwrap();
        let d = sealed(b"abc");
        assert_eq!(
            open(&key, &d.slice(..OVERHEAD - 1)).unwrap_err(),
            DropReason::Size
        );
        assert_eq!(
            open(&key, &d.slice(..d.len() - 1)).unwrap_err(),
            DropReason::Size
        );
        let mut long = d.to_vec();
        long.push(0);
        assert_eq!(
            open(&key, &Bytes::from(long)).unwrap_err(),
            DropReason::Size
        );
        let huge = Bytes::from(vec![0u8; MAX_DATAGRAM + 1]);
        assert_eq!(open(&key, &huge).unwrap_err(), DropReason::Size);
    }

    #[test]
    fn another_secret_fails_the_mac() {
        let other = Key::new(b"another-secret-16").unwrap();
        assert_eq!(open(&other, &sealed(b"x")).unwrap_err(), DropReason::Mac);
    }
}
