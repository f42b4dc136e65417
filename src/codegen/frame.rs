//! Stack frame layout below r10: the IR's slots, then 8-byte spill slots, checked against the
//! kernel's 512-byte limit. Fed by `ir::Function::slots` and `regalloc::Allocation`.

use super::ir::SlotInfo;
use crate::diag::Diagnostic;
use crate::source::Span;

/// The kernel's per-program stack size (MAX_BPF_STACK).
pub const MAX_STACK: u32 = 512;

/// Offsets from r10 (negative) of every slot.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub slot_off: Vec<i16>,
    pub spill_off: Vec<i16>,
    /// Bytes used below r10.
    pub size: u32,
}

fn align_up(n: u64, align: u64) -> u64 {
    n.div_ceil(align) * align
}

/// A valid alignment for a slot: 1, 2, 4 or 8 (anything else is treated as 8).
fn slot_align(a: u32) -> u64 {
    match a {
        1 | 2 | 4 | 8 => u64::from(a),
        _ => 8,
    }
}

/// Lays out `slots` and then `spills` 8-byte spill slots (each with the span to blame if it is
/// the one that crosses the limit).
pub fn layout(slots: &[SlotInfo], spills: &[Span]) -> Result<Frame, Diagnostic> {
    let mut used: u64 = 0;
    let mut first_over: Option<Span> = None;
    let mut place = |size: u64, align: u64, span: Span| -> i64 {
        used = align_up(used + size, align);
        if used > u64::from(MAX_STACK) && first_over.is_none() {
            first_over = Some(span);
        }
        -(used.min(i64::MAX as u64) as i64)
    };
    let slot_off: Vec<i64> = slots
        .iter()
        .map(|s| place(u64::from(s.size), slot_align(s.align), s.span))
        .collect();
    let spill_off: Vec<i64> = spills.iter().map(|&sp| place(8, 8, sp)).collect();
    if let Some(span) = first_over {
        return Err(Diagnostic::error(
            span,
            format!("this program needs {used} bytes of stack; the kernel allows {MAX_STACK}"),
        )
        .with_label("the stack runs out here")
        .with_note(
            "each probe gets 512 bytes of stack for strings, map keys and values, tuples, \
             printf arguments and spilled registers; use shorter strings or fewer at once",
        ));
    }
    // Every offset is within -512..=0 here, so it fits an i16.
    let to_i16 = |v: Vec<i64>| v.into_iter().map(|o| o as i16).collect();
    Ok(Frame {
        slot_off: to_i16(slot_off),
        spill_off: to_i16(spill_off),
        size: used as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(size: u32, align: u32, at: usize) -> SlotInfo {
        SlotInfo {
            size,
            align,
            span: Span::new(at, at + 1),
        }
    }

    #[test]
    fn slots_are_aligned_below_r10() {
        let f = layout(
            &[slot(1, 1, 0), slot(8, 8, 1), slot(3, 1, 2), slot(4, 4, 3)],
            &[Span::default()],
        )
        .unwrap();
        assert_eq!(f.slot_off, vec![-1, -16, -19, -24]);
        assert_eq!(f.spill_off, vec![-32]);
        assert_eq!(f.size, 32);
    }

    #[test]
    fn exactly_512_bytes_fit() {
        let f = layout(&[slot(256, 8, 0), slot(248, 8, 1)], &[Span::default()]).unwrap();
        assert_eq!(f.spill_off, vec![-512]);
    }

    #[test]
    fn the_slot_that_crosses_the_limit_is_blamed() {
        let err = layout(&[slot(296, 8, 0), slot(200, 8, 5), slot(64, 8, 9)], &[]).unwrap_err();
        assert_eq!(err.span, Some(Span::new(9, 10)));
        assert_eq!(
            err.message,
            "this program needs 560 bytes of stack; the kernel allows 512"
        );
        assert!(!err.notes.is_empty());

        let spill_span = Span::new(40, 44);
        let err = layout(&[slot(512, 8, 0)], &[spill_span]).unwrap_err();
        assert_eq!(err.span, Some(spill_span));
        assert!(err.message.contains("520 bytes"));
    }

    #[test]
    fn huge_slots_do_not_overflow() {
        let err = layout(&[slot(u32::MAX, 8, 0), slot(u32::MAX, 8, 1)], &[]).unwrap_err();
        assert_eq!(err.span, Some(Span::new(0, 1)));
    }
}
