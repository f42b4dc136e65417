//! `--dump types`: the checked program as text: maps with layouts, printf records, and each
//! probe's statements with every expression's type.

use super::typed::*;
use crate::source::Source;
use std::fmt::Write;

pub fn dump(c: &Checked, src: &Source) -> String {
    let mut out = String::new();
    for m in &c.maps {
        let keys: Vec<String> = m.keys.iter().map(|t| t.to_string()).collect();
        let value = match &m.value {
            MapValueType::Plain(t) => t.to_string(),
            MapValueType::Agg { kind, signed } => format!(
                "{}({})",
                super::agg_name(*kind),
                if *signed { "signed" } else { "unsigned" }
            ),
            MapValueType::Hist => "hist()".into(),
            MapValueType::Lhist { min, max, step } => format!("lhist({min}, {max}, {step})"),
        };
        let _ = writeln!(
            out,
            "map {} [{}] -> {}: {:?} key {} value {} entries {}{}",
            m.name,
            keys.join(", "),
            value,
            m.def.kind,
            m.def.key_size,
            m.def.value_size,
            m.def.max_entries,
            if m.internal { " (internal)" } else { "" }
        );
    }
    for (i, p) in c.printfs.iter().enumerate() {
        let args: Vec<String> = p
            .args
            .iter()
            .zip(&p.offsets)
            .map(|(t, o)| format!("{t}@{o}"))
            .collect();
        let _ = writeln!(
            out,
            "printf {i} {:?}: [{}] size {}",
            p.format,
            args.join(", "),
            p.size
        );
    }
    for p in &c.probes {
        let (line, col) = src.line_col(p.span.start);
        let _ = writeln!(out, "probe {} @{line}:{col}", p.attach_text);
        for (i, t) in p.var_types.iter().enumerate() {
            let _ = writeln!(out, "  var ${i}: {t}");
        }
        if let Some(pred) = &p.predicate {
            let _ = writeln!(out, "  predicate");
            expr(&mut out, pred, 2);
        }
        stmts(&mut out, &p.body, 1);
    }
    out
}

fn pad(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn stmts(out: &mut String, body: &[TStmt], depth: usize) {
    for s in body {
        pad(out, depth);
        match &s.kind {
            TStmtKind::Expr(e) => {
                out.push_str("expr\n");
                expr(out, e, depth + 1);
            }
            TStmtKind::AssignVar { var, value } => {
                let _ = writeln!(out, "${var} =");
                expr(out, value, depth + 1);
            }
            TStmtKind::MapStore { map, keys, value } => {
                let _ = writeln!(out, "store map#{map}");
                keys.iter().for_each(|k| expr(out, k, depth + 1));
                expr(out, value, depth + 1);
            }
            TStmtKind::MapAgg {
                map,
                keys,
                func,
                args,
                ..
            } => {
                let _ = writeln!(out, "{} map#{map}", crate::builtins::get(*func).name);
                keys.iter()
                    .chain(args)
                    .for_each(|k| expr(out, k, depth + 1));
            }
            TStmtKind::Break => out.push_str("break\n"),
            TStmtKind::Continue => out.push_str("continue\n"),
            TStmtKind::Return => out.push_str("return\n"),
            TStmtKind::If { cond, then, els } => {
                out.push_str("if\n");
                expr(out, cond, depth + 1);
                stmts(out, then, depth + 1);
                if !els.is_empty() {
                    pad(out, depth);
                    out.push_str("else\n");
                    stmts(out, els, depth + 1);
                }
            }
            TStmtKind::While { cond, body } => {
                out.push_str("while\n");
                expr(out, cond, depth + 1);
                stmts(out, body, depth + 1);
            }
        }
    }
}

fn expr(out: &mut String, e: &TExpr, depth: usize) {
    pad(out, depth);
    let head = match &e.kind {
        TExprKind::Int(v) => format!("int {v}"),
        TExprKind::Str(b) => format!("str {:?}", String::from_utf8_lossy(b)),
        TExprKind::StackStr(b) => format!("stack str {:?}", String::from_utf8_lossy(b)),
        TExprKind::Call { builtin, data, .. } => {
            let b = crate::builtins::get(*builtin);
            let kind = match b.kind {
                crate::builtins::Kind::Variable => "builtin",
                crate::builtins::Kind::Function | crate::builtins::Kind::MapFunction => "call",
            };
            if data.is_empty() {
                format!("{kind} {}", b.name)
            } else {
                format!("{kind} {} {data:?}", b.name)
            }
        }
        TExprKind::Var(v) => format!("var ${v}"),
        TExprKind::MapRead { map, .. } => format!("read map#{map}"),
        TExprKind::CtxField(f) => format!(
            "ctx field +{} size {}{}{}{}",
            f.offset,
            f.size,
            if f.signed { " signed" } else { "" },
            if f.data_loc { " data_loc" } else { "" },
            if f.end_if_zero { " end_if_zero" } else { "" }
        ),
        TExprKind::Unary { op, .. } => format!("unary {op:?}"),
        TExprKind::Binary { op, signed, .. } => format!(
            "binary {}{}",
            op.symbol(),
            if *signed { " signed" } else { "" }
        ),
        TExprKind::StrEq { negate, .. } => format!("string {}", if *negate { "!=" } else { "==" }),
        TExprKind::Logical { and, .. } => (if *and { "&&" } else { "||" }).to_string(),
        TExprKind::Ternary { .. } => "?:".into(),
        TExprKind::Cast(_) => "cast".into(),
        TExprKind::IncVar { var, delta, post } => {
            format!(
                "${var} += {delta} ({})",
                if *post { "old value" } else { "new value" }
            )
        }
        TExprKind::IncMap {
            map, delta, post, ..
        } => format!(
            "map#{map} += {delta} ({})",
            if *post { "old value" } else { "new value" }
        ),
        TExprKind::MemRead { user, .. } => {
            format!("read {}", if *user { "user" } else { "kernel" })
        }
        TExprKind::Bits { shift, bits, .. } => format!("bits {shift}+{bits}"),
        TExprKind::Part { offset, .. } => format!("part +{offset}"),
        TExprKind::Tuple(_) => "tuple".into(),
        TExprKind::TupleField { index, .. } => format!("tuple field .{index}"),
    };
    let _ = writeln!(out, "{head} : {}", e.ty);
    let kids = e.children();
    for k in kids {
        expr(out, k, depth + 1);
    }
}
