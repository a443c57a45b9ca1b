//! Bounds-checked big-endian reads over a body: running out is `Malformed`.

use super::drop_reason::DropReason;

/// A cursor over body bytes.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DropReason> {
        if self.buf.len() < n {
            return Err(DropReason::Malformed);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DropReason> {
        Ok(self.bytes(N)?.try_into().expect("N bytes"))
    }

    pub(super) fn u8(&mut self) -> Result<u8, DropReason> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, DropReason> {
        self.array().map(u16::from_be_bytes)
    }

    pub(super) fn u32(&mut self) -> Result<u32, DropReason> {
        self.array().map(u32::from_be_bytes)
    }

    pub(super) fn u64(&mut self) -> Result<u64, DropReason> {
        self.array().map(u64::from_be_bytes)
    }

    pub(super) fn i64(&mut self) -> Result<i64, DropReason> {
        self.array().map(i64::from_be_bytes)
    }

    /// A 0 or 1 byte as a flag; anything else is malformed.
    pub(super) fn flag(&mut self) -> Result<bool, DropReason> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DropReason::Malformed),
        }
    }
}
