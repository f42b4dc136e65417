//! Kernel addresses to names: an address-sorted index of /proc/kallsyms's code symbols, read
//! the first time a run prints a kernel stack or `ksym()`. Fed by the runtime's decoder.

/// Addresses below this are user space on x86-64; kallsyms lists none of them but a few
/// per-CPU offsets, which bcc (and so bpftrace 0.17) leaves out too.
#[cfg(target_arch = "x86_64")]
const KERNEL_SPACE: u64 = 0x00ff_ffff_ffff_ffff;
#[cfg(not(target_arch = "x86_64"))]
const KERNEL_SPACE: u64 = 0;

/// The kernel's code symbols, sorted by address; names kept in one buffer.
#[derive(Debug, Default)]
pub struct KernelSymbols {
    /// (address, start of the name in `names`, its length)
    syms: Vec<(u64, u32, u32)>,
    names: String,
}

impl KernelSymbols {
    /// Reads /proc/kallsyms (all zero addresses when not root: then nothing resolves).
    pub fn load() -> KernelSymbols {
        match std::fs::read_to_string("/proc/kallsyms") {
            Ok(text) => KernelSymbols::parse(&text),
            Err(_) => KernelSymbols::default(),
        }
    }

    /// Indexes kallsyms text: `ADDR TYPE NAME [MODULE]` lines. Data symbols (types b, d, r in
    /// either case) and zero addresses are left out, as bpftrace 0.17 leaves them out.
    pub fn parse(text: &str) -> KernelSymbols {
        let mut out = KernelSymbols {
            syms: Vec::with_capacity(text.len() / 40),
            names: String::with_capacity(text.len() / 2),
        };
        for line in text.lines() {
            let mut parts = line.split_ascii_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if addr == 0 || addr == u64::MAX || addr < KERNEL_SPACE {
                continue;
            }
            if matches!(kind, "b" | "B" | "d" | "D" | "r" | "R") {
                continue;
            }
            out.syms
                .push((addr, out.names.len() as u32, name.len() as u32));
            out.names.push_str(name);
        }
        // Sorted as bpftrace 0.17 sorts them: which of several symbols at one address names
        // it is the sort's doing.
        super::cxxsort::sort_by_key(&mut out.syms, |s| s.0);
        out
    }

    /// The symbol at or before `addr` and the offset into it. Like bpftrace 0.17, any address
    /// at or past the first symbol resolves to the nearest symbol below it (kallsyms gives no
    /// sizes).
    pub fn resolve(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.syms.partition_point(|s| s.0 <= addr);
        let &(start, off, len) = self.syms.get(i.checked_sub(1)?)?;
        let name = self.names.get(off as usize..(off + len) as usize)?;
        Some((name, addr - start))
    }

    /// Symbols indexed.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
0000000000000000 A fixed_percpu_data
ffffffff81000000 T _text
ffffffff81000100 T startup_64
ffffffff81000100 T secondary_alias
ffffffff81200000 D some_data
ffffffff81300000 t vfs_read
ffffffff81300400 W weak_fn
ffffffffc0201000 t ftrace_trampoline\t[__builtin__ftrace]
ffffffffc0300000 t nft_do_chain\t[nf_tables]
";

    #[test]
    fn resolves_code_symbols_with_offsets() {
        let k = KernelSymbols::parse(TEXT);
        assert_eq!(k.len(), 7);
        assert_eq!(k.resolve(0xffffffff81300000), Some(("vfs_read", 0)));
        assert_eq!(k.resolve(0xffffffff81300010), Some(("vfs_read", 16)));
        assert_eq!(k.resolve(0xffffffff81300400), Some(("weak_fn", 0)));
        // Data symbols are skipped: an address past one belongs to the code before it.
        assert_eq!(
            k.resolve(0xffffffff81200008),
            Some(("secondary_alias", 0x1fff08))
        );
        // Module symbols resolve by name alone.
        assert_eq!(k.resolve(0xffffffffc0300005), Some(("nft_do_chain", 5)));
        // Past the last symbol: still the last one, as bpftrace 0.17 resolves it.
        assert_eq!(k.resolve(u64::MAX), Some(("nft_do_chain", 0x3fcf_ffff)));
    }

    #[test]
    fn below_the_first_symbol_nothing_resolves() {
        let k = KernelSymbols::parse(TEXT);
        assert_eq!(k.resolve(0xffffffff80000000), None);
        assert_eq!(k.resolve(0), None);
        assert!(KernelSymbols::parse("").is_empty());
    }

    #[test]
    fn of_a_few_equal_addresses_the_last_listed_names_them() {
        let k = KernelSymbols::parse(TEXT);
        assert_eq!(k.resolve(0xffffffff81000104), Some(("secondary_alias", 4)));
    }
}
