//! `--dump ast`: the parser's AST as an indented tree, one node per line, each with its span as
//! `@LINE:COL-LINE:COL` (1-based; the end column is one past the last character).

use crate::ast::*;
use crate::source::{Source, Span};
use std::fmt::Write;

pub fn dump(prog: &Program, src: &Source) -> String {
    let mut d = Dumper {
        lines: LineIndex::new(&src.text),
        out: String::new(),
        depth: 0,
    };
    d.line("Program", prog.span);
    d.nested(|d| {
        for s in &prog.structs {
            d.struct_def(s);
        }
        for p in &prog.probes {
            d.probe(p);
        }
    });
    d.out
}

/// Byte offset -> (line, column in characters), by binary search over line starts.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    fn at(&self, offset: u32) -> (usize, usize) {
        let off = (offset as usize).min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= off).max(1);
        let start = self.starts[line - 1];
        let col = self
            .text
            .get(start..off)
            .map_or(off - start, |s| s.chars().count());
        (line, col + 1)
    }
}

struct Dumper<'a> {
    lines: LineIndex<'a>,
    out: String,
    depth: usize,
}

impl Dumper<'_> {
    fn line(&mut self, label: &str, span: Span) {
        let (l1, c1) = self.lines.at(span.start);
        let (l2, c2) = self.lines.at(span.end);
        let indent = "  ".repeat(self.depth);
        let _ = writeln!(self.out, "{indent}{label} @{l1}:{c1}-{l2}:{c2}");
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self)) {
        self.depth += 1;
        f(self);
        self.depth -= 1;
    }

    fn struct_def(&mut self, s: &StructDef) {
        let name = &s.name.name;
        if name.starts_with('#') {
            self.line(&format!("Directive {name:?}"), s.span);
        } else if s.fields.is_empty() && !is_ident(name) {
            self.line(&format!("Include {name:?}"), s.span);
        } else {
            let kind = if s.union { "Union" } else { "Struct" };
            self.line(&format!("{kind} {name}"), s.span);
            self.nested(|d| {
                for f in &s.fields {
                    d.line(
                        &format!("Field {}: {}", f.name.name, type_text(&f.ty)),
                        f.span,
                    );
                }
            });
        }
    }

    fn probe(&mut self, p: &Probe) {
        self.line("Probe", p.span);
        self.nested(|d| {
            for a in &p.attach_points {
                d.line(&format!("AttachPoint {}", a.raw), a.span);
            }
            if let Some(pred) = &p.predicate {
                d.line("Predicate", pred.span);
                d.nested(|d| d.expr(pred));
            }
            d.block("Block", &p.body);
        });
    }

    fn block(&mut self, label: &str, b: &Block) {
        self.line(label, b.span);
        self.nested(|d| {
            for s in &b.stmts {
                d.stmt(s);
            }
        });
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Expr(e) => {
                self.line("ExprStmt", s.span);
                self.nested(|d| d.expr(e));
            }
            StmtKind::AssignVar { var, op, value } => {
                self.line(
                    &format!("AssignVar ${} {}", var.name, assign_op(*op)),
                    s.span,
                );
                self.nested(|d| d.expr(value));
            }
            StmtKind::AssignMap { map, op, value } => {
                self.line(&format!("AssignMap {}", assign_op(*op)), s.span);
                self.nested(|d| {
                    d.map(map);
                    d.expr(value);
                });
            }
            StmtKind::If { cond, then, els } => {
                self.line("If", s.span);
                self.nested(|d| {
                    d.expr(cond);
                    d.block("Then", then);
                    if let Some(e) = els {
                        d.block("Else", e);
                    }
                });
            }
            StmtKind::Unroll { count, body } => {
                self.line("Unroll", s.span);
                self.nested(|d| {
                    d.expr(count);
                    d.block("Body", body);
                });
            }
            StmtKind::While { cond, body } => {
                self.line("While", s.span);
                self.nested(|d| {
                    d.expr(cond);
                    d.block("Body", body);
                });
            }
            StmtKind::Break => self.line("Break", s.span),
            StmtKind::Continue => self.line("Continue", s.span),
            StmtKind::Return => self.line("Return", s.span),
        }
    }

    fn map(&mut self, m: &MapRef) {
        self.line(&format!("Map @{}", m.name), m.span);
        self.nested(|d| {
            for k in &m.keys {
                d.expr(k);
            }
        });
    }

    fn expr(&mut self, e: &Expr) {
        let children: Vec<&Expr> = match &e.kind {
            ExprKind::Int(n) => return self.line(&format!("Int {n}"), e.span),
            ExprKind::Str(s) => {
                let text = s.escape_ascii().to_string();
                return self.line(&format!("Str \"{text}\""), e.span);
            }
            ExprKind::Builtin(name) => return self.line(&format!("Builtin {name}"), e.span),
            ExprKind::PosParam(n) => return self.line(&format!("PosParam ${n}"), e.span),
            ExprKind::PosParamCount => return self.line("PosParamCount $#", e.span),
            ExprKind::Var(name) => return self.line(&format!("Var ${name}"), e.span),
            ExprKind::Map(m) => return self.map(m),
            ExprKind::Call { name, args } => {
                self.line(&format!("Call {}", name.name), e.span);
                args.iter().collect()
            }
            ExprKind::Unary { op, expr } => {
                self.line(&format!("Unary {}", unary_op(*op)), e.span);
                vec![expr]
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.line(&format!("Binary {}", op.symbol()), e.span);
                vec![lhs, rhs]
            }
            ExprKind::Ternary { cond, then, els } => {
                self.line("Ternary", e.span);
                vec![cond, then, els]
            }
            ExprKind::Field { expr, field, arrow } => {
                let sep = if *arrow { "->" } else { "." };
                self.line(&format!("Field {sep}{}", field.name), e.span);
                vec![expr]
            }
            ExprKind::Index { expr, index } => {
                self.line("Index", e.span);
                vec![expr, index]
            }
            ExprKind::Tuple(items) => {
                self.line("Tuple", e.span);
                items.iter().collect()
            }
            ExprKind::Cast { ty, expr } => {
                self.line(&format!("Cast ({})", type_text(ty)), e.span);
                vec![expr]
            }
            ExprKind::IncDec {
                target,
                increment,
                prefix,
            } => {
                let op = if *increment { "++" } else { "--" };
                let fix = if *prefix { "prefix" } else { "postfix" };
                self.line(&format!("IncDec {op} {fix}"), e.span);
                vec![target]
            }
        };
        self.nested(|d| {
            for c in children {
                d.expr(c);
            }
        });
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn type_text(ty: &TypeName) -> String {
    let mut s = ty.name.clone();
    if ty.pointer_depth > 0 {
        s.push(' ');
        s.push_str(&"*".repeat(usize::from(ty.pointer_depth)));
    }
    if let Some(n) = ty.array_len {
        let _ = write!(s, "[{n}]");
    }
    for n in &ty.array_more {
        let _ = write!(s, "[{n}]");
    }
    s
}

fn assign_op(op: Option<BinOp>) -> String {
    match op {
        None => "=".to_string(),
        Some(op) => format!("{}=", op.symbol()),
    }
}

fn unary_op(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "-",
        UnOp::Not => "!",
        UnOp::BitNot => "~",
        UnOp::Deref => "*",
        UnOp::AddrOf => "&",
    }
}
