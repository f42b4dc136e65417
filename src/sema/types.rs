//! The types of rtrace expressions and their byte layouts in keys, values and event records.

use std::fmt;

/// The type of an expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// An integer of `size` bytes (1, 2, 4 or 8). In registers it is always held as 64 bits,
    /// sign- or zero-extended; in memory (keys, values, records) it takes 8 bytes.
    Int { size: u8, signed: bool },
    /// A NUL-terminated string in a zero-padded buffer of `size` bytes (NUL included).
    Str { size: u32 },
    /// A tuple of values, laid out one after another, each 8-byte aligned.
    Tuple(Vec<Type>),
    /// A pointer (a kernel or user address), held as a 64-bit integer.
    Ptr { user: bool },
    /// The type of statements and of calls that return nothing.
    Void,
}

/// bpftrace's default string buffer size (`BPFTRACE_STRLEN`).
pub const STRLEN: u32 = 64;
/// `comm`'s buffer size (TASK_COMM_LEN).
pub const COMM_LEN: u32 = 16;

impl Type {
    pub const I64: Type = Type::Int {
        size: 8,
        signed: true,
    };
    pub const U64: Type = Type::Int {
        size: 8,
        signed: false,
    };

    pub fn is_int(&self) -> bool {
        matches!(self, Type::Int { .. } | Type::Ptr { .. })
    }

    pub fn is_signed(&self) -> bool {
        matches!(self, Type::Int { signed: true, .. })
    }

    pub fn is_str(&self) -> bool {
        matches!(self, Type::Str { .. })
    }

    /// Bytes this type takes in a key, value or record: integers take 8, strings their buffer
    /// rounded up to 8, tuples the sum of their elements.
    pub fn layout_size(&self) -> u32 {
        match self {
            Type::Int { .. } | Type::Ptr { .. } => 8,
            Type::Str { size } => size.div_ceil(8) * 8,
            Type::Tuple(elems) => elems.iter().map(Type::layout_size).sum(),
            Type::Void => 0,
        }
    }

    /// Offsets of a tuple's elements inside its layout.
    pub fn tuple_offsets(elems: &[Type]) -> Vec<u32> {
        let mut off = 0;
        elems
            .iter()
            .map(|t| {
                let o = off;
                off += t.layout_size();
                o
            })
            .collect()
    }

    /// Whether a value of type `other` can be stored where `self` is expected, and the type that
    /// covers both (strings widen to the larger buffer; integers to 64 bits).
    pub fn unify(&self, other: &Type) -> Option<Type> {
        match (self, other) {
            (Type::Int { .. } | Type::Ptr { .. }, Type::Int { .. } | Type::Ptr { .. }) => {
                Some(Type::Int {
                    size: 8,
                    signed: self.is_signed() || other.is_signed(),
                })
            }
            (Type::Str { size: a }, Type::Str { size: b }) => Some(Type::Str { size: *a.max(b) }),
            (Type::Tuple(a), Type::Tuple(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .map(|(x, y)| x.unify(y))
                .collect::<Option<Vec<_>>>()
                .map(Type::Tuple),
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int { size, signed } => {
                write!(f, "{}int{}", if *signed { "" } else { "u" }, size * 8)
            }
            Type::Str { size } => write!(f, "string[{size}]"),
            Type::Tuple(elems) => {
                write!(f, "(")?;
                for (i, e) in elems.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{e}")?;
                }
                write!(f, ")")
            }
            Type::Ptr { user: true } => write!(f, "user pointer"),
            Type::Ptr { user: false } => write!(f, "pointer"),
            Type::Void => write!(f, "none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_eight_byte_units() {
        assert_eq!(Type::I64.layout_size(), 8);
        assert_eq!(Type::Str { size: 16 }.layout_size(), 16);
        assert_eq!(Type::Str { size: 4 }.layout_size(), 8);
        let t = vec![Type::Str { size: 12 }, Type::U64];
        assert_eq!(Type::tuple_offsets(&t), vec![0, 16]);
        assert_eq!(Type::Tuple(t).layout_size(), 24);
    }

    #[test]
    fn unify_widens() {
        let s = Type::Str { size: 4 }.unify(&Type::Str { size: 64 });
        assert_eq!(s, Some(Type::Str { size: 64 }));
        assert_eq!(Type::U64.unify(&Type::Str { size: 4 }), None);
        assert_eq!(
            Type::Int {
                size: 4,
                signed: false
            }
            .unify(&Type::I64),
            Some(Type::I64)
        );
    }
}
