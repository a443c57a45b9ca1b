//! One test per rule the decoder enforces, the RFC 6455 5.7 examples, and
//! round trips through the client encoder.

use super::*;
use crate::ws::encode::{self, client_frame};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const MAX: usize = 1 << 16;

fn server() -> Decoder {
    Decoder::new(Role::Server, MAX)
}

fn client() -> Decoder {
    Decoder::new(Role::Client, MAX)
}

fn masked(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    client_frame(opcode, fin, payload, MASK, &mut out);
    out
}

fn code(result: Result<Step, Violation>) -> u16 {
    match result {
        Err(v) => v.code,
        Ok(step) => panic!("expected a violation, got {step:?}"),
    }
}

/// Decodes every frame in `bytes`, returning the steps and the bytes of each
/// message (unmasked, in order).
fn decode_all(d: &mut Decoder, bytes: &mut [u8]) -> Result<Vec<(Step, Vec<u8>)>, Violation> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let buf = &mut bytes[at..];
        let step = d.decode(buf)?;
        let body = match &step {
            Step::NeedMore(_) => panic!("frame incomplete at {at}: {step:?}"),
            Step::Message {
                payload: Payload::InBuf(r),
                ..
            } => buf[r.clone()].to_vec(),
            Step::Message {
                payload: Payload::Assembled,
                ..
            } => d.assembled().to_vec(),
            Step::Ping { payload, .. } => buf[payload.clone()].to_vec(),
            Step::Close { reason, .. } => buf[reason.clone()].to_vec(),
            _ => Vec::new(),
        };
        at += step.consumed();
        out.push((step, body));
    }
    Ok(out)
}

// RFC 6455 5.7 examples.

#[test]
fn rfc_5_7_unmasked_hello() {
    let mut f = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let step = client().decode(&mut f).unwrap();
    let payload = Payload::InBuf(2..7);
    assert_eq!(
        step,
        Step::Message {
            consumed: 7,
            kind: MessageKind::Text,
            payload
        }
    );
    assert_eq!(&f[2..], b"Hello");
}

#[test]
fn rfc_5_7_masked_hello() {
    let mut f = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let step = server().decode(&mut f).unwrap();
    let payload = Payload::InBuf(6..11);
    assert_eq!(
        step,
        Step::Message {
            consumed: 11,
            kind: MessageKind::Text,
            payload
        }
    );
    assert_eq!(&f[6..], b"Hello");
}

#[test]
fn rfc_5_7_fragmented_unmasked_hello() {
    let mut f = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let mut d = client();
    assert_eq!(d.decode(&mut f).unwrap(), Step::Fragment { consumed: 5 });
    let step = d.decode(&mut f[5..]).unwrap();
    let payload = Payload::Assembled;
    assert_eq!(
        step,
        Step::Message {
            consumed: 4,
            kind: MessageKind::Text,
            payload
        }
    );
    assert_eq!(d.assembled(), b"Hello");
}

#[test]
fn rfc_5_7_ping_and_masked_pong() {
    let mut ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(
        client().decode(&mut ping).unwrap(),
        Step::Ping {
            consumed: 7,
            payload: 2..7
        }
    );
    let mut pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(
        server().decode(&mut pong).unwrap(),
        Step::Pong { consumed: 11 }
    );
}

#[test]
fn rfc_5_7_binary_with_16_and_64_bit_lengths() {
    let mut f = vec![0x82, 0x7e, 0x01, 0x00];
    f.extend((0..256).map(|i| i as u8));
    let step = client().decode(&mut f).unwrap();
    let payload = Payload::InBuf(4..260);
    assert_eq!(
        step,
        Step::Message {
            consumed: 260,
            kind: MessageKind::Binary,
            payload
        }
    );

    let mut f = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
    f.resize(10 + 65536, 9);
    let step = client().decode(&mut f).unwrap();
    let payload = Payload::InBuf(10..65546);
    assert_eq!(
        step,
        Step::Message {
            consumed: 65546,
            kind: MessageKind::Binary,
            payload
        }
    );
}

// Round trips and NeedMore.

#[test]
fn client_frames_round_trip_at_every_length_form() {
    for len in [0, 1, 125, 126, 1000, 65535, 65536] {
        let text: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let mut f = masked(OpCode::Text, true, &text);
        let step = server().decode(&mut f).unwrap();
        let Step::Message {
            consumed,
            kind: MessageKind::Text,
            payload: Payload::InBuf(r),
        } = step
        else {
            panic!("len {len}: {step:?}");
        };
        assert_eq!(consumed, f.len());
        assert_eq!(f[r], text[..], "len {len}");
    }
}

#[test]
fn need_more_says_exactly_what_finishes_the_header_then_the_frame() {
    for len in [5, 300, 70_000] {
        let payload = vec![b'x'; len];
        let frame = masked(OpCode::Binary, true, &payload);
        let header_len = frame.len() - len;
        for cut in 0..frame.len() {
            let mut prefix = frame[..cut].to_vec();
            let want = match cut {
                0 | 1 => 2 - cut,
                _ if cut < header_len => header_len - cut,
                _ => frame.len() - cut,
            };
            let step = Decoder::new(Role::Server, len).decode(&mut prefix).unwrap();
            assert_eq!(step, Step::NeedMore(want), "len {len} cut {cut}");
            assert_eq!(
                prefix[..],
                frame[..cut],
                "nothing unmasked before the frame is whole"
            );
            if len > 300 && cut > header_len + 10 {
                break; // the payload part is linear; spare the CPU
            }
        }
    }
}

#[test]
fn a_split_stream_decodes_like_a_whole_one() {
    let mut stream = masked(OpCode::Text, false, "héllo ".as_bytes());
    stream.extend(masked(OpCode::Ping, true, b"p"));
    stream.extend(masked(OpCode::Continuation, true, "wörld".as_bytes()));
    stream.extend(masked(OpCode::Binary, true, &[1, 2, 3]));
    for cut in 0..stream.len() {
        let mut d = server();
        let mut buf = stream[..cut].to_vec();
        let mut rest = &stream[cut..];
        let mut messages = Vec::new();
        loop {
            match d.decode(&mut buf).unwrap() {
                Step::NeedMore(n) => {
                    assert!(n > 0);
                    if rest.is_empty() {
                        break;
                    }
                    let take = n.min(rest.len());
                    buf.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                }
                step => {
                    if let Step::Message { payload, .. } = &step {
                        messages.push(match payload {
                            Payload::InBuf(r) => buf[r.clone()].to_vec(),
                            Payload::Assembled => d.assembled().to_vec(),
                        });
                    }
                    buf.drain(..step.consumed());
                }
            }
        }
        assert_eq!(
            messages,
            [b"h\xc3\xa9llo w\xc3\xb6rld".to_vec(), vec![1, 2, 3]],
            "cut {cut}"
        );
    }
}

#[test]
fn several_frames_in_one_buffer_decode_in_turn() {
    let mut bytes = masked(OpCode::Text, true, b"one");
    bytes.extend(masked(OpCode::Pong, true, b""));
    bytes.extend(masked(OpCode::Text, true, b"two"));
    let steps = decode_all(&mut server(), &mut bytes).unwrap();
    let bodies: Vec<_> = steps.iter().map(|(_, b)| b.as_slice()).collect();
    assert_eq!(bodies, [&b"one"[..], b"", b"two"]);
    assert!(matches!(steps[1].0, Step::Pong { consumed: 6 }));
}

// Limits, judged from the header.

#[test]
fn too_big_is_refused_from_the_length_field_alone() {
    let mut d = Decoder::new(Role::Server, 1000);
    // 16-bit length 1001, no mask key or payload yet.
    assert_eq!(
        code(d.decode(&mut [0x81, 0xfe, 0x03, 0xe9])),
        close::TOO_BIG
    );
    let mut d = Decoder::new(Role::Server, 1000);
    let mut f = [0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0];
    assert_eq!(code(d.decode(&mut f)), close::TOO_BIG);
    let mut d = Decoder::new(Role::Server, 100);
    assert_eq!(code(d.decode(&mut [0x81, 0x80 | 101])), close::TOO_BIG);
}

#[test]
fn a_message_of_exactly_the_limit_is_accepted() {
    let mut d = Decoder::new(Role::Server, 100);
    let mut f = masked(OpCode::Binary, true, &[0; 100]);
    assert!(matches!(d.decode(&mut f), Ok(Step::Message { .. })));
}

#[test]
fn the_running_total_of_fragments_is_limited() {
    let mut d = Decoder::new(Role::Server, 100);
    let mut first = masked(OpCode::Text, false, &[b'a'; 90]);
    assert_eq!(
        d.decode(&mut first).unwrap(),
        Step::Fragment { consumed: 96 }
    );
    let mut fits = masked(OpCode::Continuation, false, &[b'a'; 10]);
    assert_eq!(
        d.decode(&mut fits).unwrap(),
        Step::Fragment { consumed: 16 }
    );
    // One more byte: refused from its two-byte header.
    assert_eq!(code(d.decode(&mut [0x80, 0x81])), close::TOO_BIG);
}

#[test]
fn control_frames_do_not_count_toward_the_message_limit() {
    let mut d = Decoder::new(Role::Server, 10);
    let mut bytes = masked(OpCode::Text, false, &[b'a'; 10]);
    bytes.extend(masked(OpCode::Ping, true, &[0; 125]));
    bytes.extend(masked(OpCode::Continuation, true, b""));
    let steps = decode_all(&mut d, &mut bytes).unwrap();
    assert_eq!(steps[2].1, [b'a'; 10]);
}

#[test]
fn length_with_the_top_bit_set_is_a_protocol_error() {
    let mut f = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1];
    let mut d = Decoder::new(Role::Server, usize::MAX);
    assert_eq!(code(d.decode(&mut f)), close::PROTOCOL_ERROR);
}

#[test]
fn non_minimal_lengths_are_accepted() {
    let mut hello = vec![0x81, 0x80 | 126, 0, 5];
    hello.extend(MASK);
    hello.extend(b"Hello");
    encode_mask(&mut hello[8..]);
    let step = server().decode(&mut hello).unwrap();
    assert!(
        matches!(step, Step::Message { consumed: 13, .. }),
        "{step:?}"
    );

    let mut hello = vec![0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 5];
    hello.extend(MASK);
    hello.extend(b"Hello");
    encode_mask(&mut hello[14..]);
    let step = server().decode(&mut hello).unwrap();
    assert!(
        matches!(step, Step::Message { consumed: 19, .. }),
        "{step:?}"
    );
    assert_eq!(&hello[14..], b"Hello");
}

fn encode_mask(payload: &mut [u8]) {
    crate::ws::mask::apply_mask(payload, MASK, 0);
}

// Mask bit by role.

#[test]
fn server_refuses_unmasked_frames() {
    let v = server()
        .decode(&mut [0x81, 0x05, b'H', b'e', b'l', b'l', b'o'])
        .unwrap_err();
    assert_eq!(v.code, close::PROTOCOL_ERROR);
    assert_eq!(
        code(server().decode(&mut [0x81, 0x05])),
        close::PROTOCOL_ERROR
    );
}

#[test]
fn client_refuses_masked_frames() {
    let mut f = masked(OpCode::Text, true, b"Hello");
    assert_eq!(code(client().decode(&mut f)), close::PROTOCOL_ERROR);
    assert_eq!(code(client().decode(&mut f[..2])), close::PROTOCOL_ERROR);
}

// Header bits and opcodes.

#[test]
fn reserved_bits_are_refused_from_the_first_byte() {
    for rsv in [0x40, 0x20, 0x10] {
        let mut f = masked(OpCode::Text, true, b"x");
        f[0] |= rsv;
        assert_eq!(
            code(server().decode(&mut f)),
            close::PROTOCOL_ERROR,
            "rsv {rsv:#x}"
        );
        assert_eq!(
            code(server().decode(&mut f[..1])),
            close::PROTOCOL_ERROR,
            "rsv {rsv:#x}"
        );
    }
}

#[test]
fn reserved_opcodes_are_refused() {
    for op in (0x3..=0x7).chain(0xb..=0xf) {
        let mut f = [0x80 | op, 0x80, 0, 0, 0, 0];
        assert_eq!(
            code(server().decode(&mut f)),
            close::PROTOCOL_ERROR,
            "opcode {op:#x}"
        );
        assert_eq!(
            code(server().decode(&mut f[..1])),
            close::PROTOCOL_ERROR,
            "opcode {op:#x}"
        );
    }
}

// Control frames.

#[test]
fn control_frames_over_125_bytes_are_refused() {
    for op in [OpCode::Ping, OpCode::Pong, OpCode::Close] {
        let mut f = masked(op, true, &[b'a'; 126]);
        assert_eq!(
            code(server().decode(&mut f)),
            close::PROTOCOL_ERROR,
            "{op:?}"
        );
        assert_eq!(
            code(server().decode(&mut f[..2])),
            close::PROTOCOL_ERROR,
            "{op:?}"
        );
        let mut payload = [b'a'; 125];
        payload[..2].copy_from_slice(&close::NORMAL.to_be_bytes());
        let mut f = masked(op, true, &payload);
        assert!(server().decode(&mut f).is_ok(), "{op:?} of 125 bytes");
    }
}

#[test]
fn fragmented_control_frames_are_refused() {
    for op in [OpCode::Ping, OpCode::Pong, OpCode::Close] {
        let mut f = masked(op, false, b"");
        assert_eq!(
            code(server().decode(&mut f[..1])),
            close::PROTOCOL_ERROR,
            "{op:?}"
        );
    }
}

#[test]
fn control_frames_interleave_with_fragments() {
    let mut bytes = masked(OpCode::Text, false, b"Hel");
    bytes.extend(masked(OpCode::Ping, true, b"are you there"));
    bytes.extend(masked(OpCode::Pong, true, b""));
    bytes.extend(masked(OpCode::Continuation, true, b"lo"));
    let steps = decode_all(&mut server(), &mut bytes).unwrap();
    assert!(matches!(steps[0].0, Step::Fragment { .. }));
    assert_eq!(steps[1].1, b"are you there");
    assert!(matches!(steps[2].0, Step::Pong { .. }));
    let (last, body) = &steps[3];
    let want = Step::Message {
        consumed: 8,
        kind: MessageKind::Text,
        payload: Payload::Assembled,
    };
    assert_eq!(*last, want);
    assert_eq!(body, b"Hello");
}

// Fragmentation order.

#[test]
fn continuation_without_a_message_is_refused() {
    let mut f = masked(OpCode::Continuation, true, b"x");
    assert_eq!(code(server().decode(&mut f)), close::PROTOCOL_ERROR);
    assert_eq!(code(server().decode(&mut f[..1])), close::PROTOCOL_ERROR);
    // Nor after a fragmented message has ended.
    let mut bytes = masked(OpCode::Text, false, b"a");
    bytes.extend(masked(OpCode::Continuation, true, b"b"));
    bytes.extend(masked(OpCode::Continuation, true, b"c"));
    assert_eq!(
        decode_all(&mut server(), &mut bytes).unwrap_err().code,
        close::PROTOCOL_ERROR
    );
}

#[test]
fn a_new_message_inside_a_fragmented_one_is_refused() {
    for op in [OpCode::Text, OpCode::Binary] {
        let mut d = server();
        let mut first = masked(OpCode::Binary, false, b"ab");
        assert!(matches!(d.decode(&mut first), Ok(Step::Fragment { .. })));
        let mut f = masked(op, true, b"c");
        assert_eq!(code(d.decode(&mut f[..1])), close::PROTOCOL_ERROR, "{op:?}");
    }
}

#[test]
fn fragmented_binary_and_empty_fragments_assemble() {
    let mut bytes = masked(OpCode::Binary, false, b"");
    bytes.extend(masked(OpCode::Continuation, false, &[1, 2]));
    bytes.extend(masked(OpCode::Continuation, false, b""));
    bytes.extend(masked(OpCode::Continuation, true, &[3]));
    let steps = decode_all(&mut server(), &mut bytes).unwrap();
    let (last, body) = &steps[3];
    assert!(matches!(
        last,
        Step::Message {
            kind: MessageKind::Binary,
            ..
        }
    ));
    assert_eq!(body, &[1, 2, 3]);
}

#[test]
fn unfragmented_messages_never_touch_the_assembly_buffer() {
    let mut d = server();
    let mut bytes = masked(OpCode::Text, true, &[b'a'; 1000]);
    bytes.extend(masked(OpCode::Binary, true, &[0; 70]));
    decode_all(&mut d, &mut bytes).unwrap();
    assert_eq!(d.assembled.capacity(), 0);
}

#[test]
fn a_decoder_costs_at_most_64_bytes() {
    assert!(
        std::mem::size_of::<Decoder>() <= 64,
        "{}",
        std::mem::size_of::<Decoder>()
    );
}

#[test]
fn a_big_assembly_buffer_is_freed_after_its_message() {
    let mut d = server();
    let mut bytes = masked(OpCode::Binary, false, &[0; 10_000]);
    bytes.extend(masked(OpCode::Continuation, true, &[0; 10]));
    decode_all(&mut d, &mut bytes).unwrap();
    assert_eq!(
        d.assembled().len(),
        10_010,
        "still readable until the next decode"
    );
    let mut ping = masked(OpCode::Ping, true, b"");
    d.decode(&mut ping).unwrap();
    assert_eq!(d.assembled.capacity(), 0);
}

// UTF-8.

#[test]
fn invalid_utf8_in_an_unfragmented_text_message_is_1007() {
    let mut f = masked(OpCode::Text, true, b"caf\xc3\x28");
    assert_eq!(code(server().decode(&mut f)), close::INVALID_PAYLOAD);
    let mut f = masked(OpCode::Binary, true, b"caf\xc3\x28");
    assert!(server().decode(&mut f).is_ok(), "binary is not validated");
}

#[test]
fn fragmented_text_fails_on_the_first_bad_fragment() {
    let mut d = server();
    let mut ok = masked(
        OpCode::Text,
        false,
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
    );
    assert!(matches!(d.decode(&mut ok), Ok(Step::Fragment { .. })));
    // Not final, yet already invalid: above U+10FFFF.
    let mut bad = masked(OpCode::Continuation, false, b"\xf4\x90\x80\x80");
    assert_eq!(code(d.decode(&mut bad)), close::INVALID_PAYLOAD);
}

#[test]
fn a_code_point_split_across_fragments_is_valid() {
    let euro = "€".as_bytes();
    let mut bytes = masked(OpCode::Text, false, &euro[..1]);
    bytes.extend(masked(OpCode::Continuation, false, &euro[1..2]));
    bytes.extend(masked(OpCode::Continuation, true, &euro[2..]));
    let steps = decode_all(&mut server(), &mut bytes).unwrap();
    assert_eq!(steps[2].1, euro);
}

#[test]
fn a_code_point_cut_off_by_the_final_fragment_is_1007() {
    let mut bytes = masked(OpCode::Text, false, b"ok\xe2");
    bytes.extend(masked(OpCode::Continuation, true, b"\x82"));
    assert_eq!(
        decode_all(&mut server(), &mut bytes).unwrap_err().code,
        close::INVALID_PAYLOAD
    );
}

#[test]
fn a_new_fragmented_message_does_not_inherit_a_carried_prefix() {
    let mut d = server();
    let mut bytes = masked(OpCode::Binary, false, b"\xe2");
    bytes.extend(masked(OpCode::Continuation, true, b""));
    bytes.extend(masked(OpCode::Text, false, b"a"));
    bytes.extend(masked(OpCode::Continuation, true, b"b"));
    let steps = decode_all(&mut d, &mut bytes).unwrap();
    assert_eq!(steps[3].1, b"ab");
}

// Close frames.

#[test]
fn an_empty_close_has_no_code() {
    let mut f = masked(OpCode::Close, true, b"");
    assert_eq!(
        server().decode(&mut f).unwrap(),
        Step::Close {
            consumed: 6,
            code: None,
            reason: 6..6
        }
    );
}

#[test]
fn a_close_with_code_and_reason() {
    let mut f = Vec::new();
    encode::client_close(close::GOING_AWAY, "bye ✓", MASK, &mut f);
    let step = server().decode(&mut f).unwrap();
    let Step::Close {
        consumed,
        code: Some(1001),
        reason,
    } = step
    else {
        panic!("{step:?}")
    };
    assert_eq!(consumed, f.len());
    assert_eq!(&f[reason], "bye ✓".as_bytes());
}

#[test]
fn a_one_byte_close_payload_is_refused() {
    let mut f = masked(OpCode::Close, true, &[0x03]);
    assert_eq!(code(server().decode(&mut f)), close::PROTOCOL_ERROR);
}

#[test]
fn close_codes_a_peer_may_not_send_are_refused() {
    for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let mut f = masked(OpCode::Close, true, &u16::to_be_bytes(c));
        assert_eq!(
            code(server().decode(&mut f)),
            close::PROTOCOL_ERROR,
            "code {c}"
        );
    }
    for c in [1000, 1003, 1007, 1011, 1014, 3000, 4999] {
        let mut f = masked(OpCode::Close, true, &u16::to_be_bytes(c));
        assert!(server().decode(&mut f).is_ok(), "code {c}");
    }
}

#[test]
fn a_close_reason_that_is_not_utf8_is_1007() {
    let mut f = masked(OpCode::Close, true, b"\x03\xe8\xce\xba\xff");
    assert_eq!(code(server().decode(&mut f)), close::INVALID_PAYLOAD);
}

// Binary.

#[test]
fn binary_messages_are_returned_as_binary_in_both_roles() {
    let mut f = masked(OpCode::Binary, true, &[0xff, 0]);
    let step = server().decode(&mut f).unwrap();
    assert!(matches!(
        step,
        Step::Message {
            kind: MessageKind::Binary,
            ..
        }
    ));
    let mut f = encode::frame(OpCode::Binary, &[0xff, 0]).to_vec();
    let step = client().decode(&mut f).unwrap();
    let payload = Payload::InBuf(2..4);
    assert_eq!(
        step,
        Step::Message {
            consumed: 4,
            kind: MessageKind::Binary,
            payload
        }
    );
}

#[test]
fn server_frames_decode_in_the_client_role() {
    let mut bytes = encode::frame(OpCode::Text, b"hi").to_vec();
    bytes.extend_from_slice(&encode::close(close::TRY_AGAIN_LATER, "busy"));
    let steps = decode_all(&mut client(), &mut bytes).unwrap();
    assert_eq!(steps[0].1, b"hi");
    assert!(matches!(
        steps[1].0,
        Step::Close {
            code: Some(1013),
            ..
        }
    ));
    assert_eq!(steps[1].1, b"busy");
}
