//! A small BTF writer for tests (`btf::tests` and, later, sema's): encodes types as pahole
//! and clang do, so no unit test needs the kernel's file.

/// Writes BTF as pahole and clang do: a header, the type records, the string section.
pub(crate) struct Writer {
    types: Vec<u8>,
    strs: Vec<u8>,
    next: u32,
    big_endian: bool,
}

/// A member as written: name, type id, bit offset, bitfield width (0 for none).
pub(crate) type M<'a> = (&'a str, u32, u32, u32);

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer {
            types: Vec::new(),
            strs: vec![0],
            next: 1,
            big_endian: false,
        }
    }

    /// A writer for a machine of the other byte order than the usual little-endian one.
    pub(crate) fn big_endian() -> Writer {
        Writer {
            big_endian: true,
            ..Writer::new()
        }
    }

    /// The id the next type will get.
    pub(crate) fn next_id(&self) -> u32 {
        self.next
    }

    fn bytes(&self, w: u32) -> [u8; 4] {
        if self.big_endian {
            w.to_be_bytes()
        } else {
            w.to_le_bytes()
        }
    }

    fn word(&mut self, w: u32) {
        let b = self.bytes(w);
        self.types.extend_from_slice(&b);
    }

    fn name(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strs.len() as u32;
        self.strs.extend_from_slice(s.as_bytes());
        self.strs.push(0);
        off
    }

    fn ty(&mut self, name: &str, kind: u32, flag: bool, vlen: usize, size_or_type: u32) -> u32 {
        let name = self.name(name);
        self.word(name);
        self.word(kind << 24 | u32::from(flag) << 31 | vlen as u32);
        self.word(size_or_type);
        self.next += 1;
        self.next - 1
    }

    pub(crate) fn int(&mut self, name: &str, size: u32, encoding: u8) -> u32 {
        self.int_bits(name, size, encoding, 0, size * 8)
    }

    /// An INT with an offset and width inside its size (old-style bitfield types).
    pub(crate) fn int_bits(&mut self, name: &str, size: u32, enc: u8, off: u8, bits: u32) -> u32 {
        let id = self.ty(name, 1, false, 0, size);
        self.word(u32::from(enc) << 24 | u32::from(off) << 16 | bits);
        id
    }

    /// PTR (2), TYPEDEF (8), VOLATILE (9), CONST (10), RESTRICT (11), TYPE_TAG (18).
    pub(crate) fn refer(&mut self, kind: u32, name: &str, to: u32) -> u32 {
        self.ty(name, kind, false, 0, to)
    }

    pub(crate) fn ptr(&mut self, to: u32) -> u32 {
        self.refer(2, "", to)
    }

    pub(crate) fn array(&mut self, elem: u32, index: u32, n: u32) -> u32 {
        let id = self.ty("", 3, false, 0, 0);
        self.word(elem);
        self.word(index);
        self.word(n);
        id
    }

    /// A struct or union; `kind_flag` is set when a member is a bitfield.
    pub(crate) fn record(&mut self, union: bool, name: &str, size: u32, members: &[M]) -> u32 {
        let flag = members.iter().any(|m| m.3 > 0);
        let id = self.ty(name, if union { 5 } else { 4 }, flag, members.len(), size);
        for &(n, ty, off, bits) in members {
            let n = self.name(n);
            self.word(n);
            self.word(ty);
            self.word(if flag { bits << 24 | off } else { off });
        }
        id
    }

    /// An ENUM (4-byte values) or ENUM64 (`wide`).
    pub(crate) fn enumeration(
        &mut self,
        name: &str,
        wide: bool,
        signed: bool,
        values: &[(&str, i64)],
    ) -> u32 {
        let (kind, size) = if wide { (19, 8) } else { (6, 4) };
        let id = self.ty(name, kind, signed, values.len(), size);
        for &(n, v) in values {
            let n = self.name(n);
            self.word(n);
            self.word(v as u32);
            if wide {
                self.word((v >> 32) as u32);
            }
        }
        id
    }

    pub(crate) fn fwd(&mut self, name: &str, union: bool) -> u32 {
        self.ty(name, 7, union, 0, 0)
    }

    /// A FUNC_PROTO; a parameter `("", 0)` last makes it variadic.
    pub(crate) fn func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.ty("", 13, false, params.len(), ret);
        for &(n, ty) in params {
            let n = self.name(n);
            self.word(n);
            self.word(ty);
        }
        id
    }

    pub(crate) fn func(&mut self, name: &str, proto: u32) -> u32 {
        self.ty(name, 12, false, 1, proto)
    }

    pub(crate) fn var(&mut self, name: &str, ty: u32) -> u32 {
        let id = self.ty(name, 14, false, 0, ty);
        self.word(1);
        id
    }

    pub(crate) fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let id = self.ty(name, 15, false, vars.len(), size);
        for &(ty, off, size) in vars {
            self.word(ty);
            self.word(off);
            self.word(size);
        }
        id
    }

    pub(crate) fn float(&mut self, name: &str, size: u32) -> u32 {
        self.ty(name, 16, false, 0, size)
    }

    pub(crate) fn decl_tag(&mut self, name: &str, ty: u32, component: i32) -> u32 {
        let id = self.ty(name, 17, false, 0, ty);
        self.word(component as u32);
        id
    }

    /// The file: header, types, strings.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = Vec::new();
        let half = |v: u16| {
            if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        out.extend_from_slice(&half(0xeb9f));
        out.extend_from_slice(&[1, 0]);
        let (tl, sl) = (self.types.len() as u32, self.strs.len() as u32);
        for w in [24, 0, tl, tl, sl] {
            out.extend_from_slice(&self.bytes(w));
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strs);
        out
    }
}
