//! Checking statements: assignments, map functions, printf and the other actions, control flow.

use super::typed::*;
use super::types::Type;
use super::Checker;
use crate::ast::{self, BinOp, ExprKind, StmtKind};
use crate::builtins;
use crate::output::value::AggKind;
use crate::source::Span;

/// How many statements unrolling may produce in one place: far more than a probe can hold
/// within the kernel's limits, and far less than would make compiling slow.
const UNROLL_STMTS_MAX: usize = 20_000;

/// Statements in a checked block, nested ones included.
fn count_stmts(stmts: &[TStmt]) -> usize {
    stmts
        .iter()
        .map(|s| {
            1 + match &s.kind {
                TStmtKind::If { then, els, .. } => count_stmts(then) + count_stmts(els),
                TStmtKind::While { body, .. } => count_stmts(body),
                _ => 0,
            }
        })
        .sum()
}

/// Signal names in number order (SIGHUP is 1), without the `SIG` prefix.
const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// `unroll (N)` accepts 1 to 100 repetitions, as bpftrace does.
const UNROLL_MAX: u64 = 100;

impl Checker<'_> {
    pub(super) fn block(&mut self, b: &ast::Block) -> Vec<TStmt> {
        let mut out = Vec::new();
        for s in &b.stmts {
            self.stmt(s, &mut out);
        }
        out
    }

    fn stmt(&mut self, s: &ast::Stmt, out: &mut Vec<TStmt>) {
        let span = s.span;
        let kind = match &s.kind {
            StmtKind::Expr(e) => match self.action(e) {
                Some(k) => k,
                None => TStmtKind::Expr(self.expr(e)),
            },
            StmtKind::AssignVar { var, op, value } => {
                let rhs = self.expr(value);
                let value = match op {
                    None => rhs,
                    Some(op) => {
                        let cur = self.var_read(&var.name, var.span);
                        self.binary(*op, cur, rhs, span)
                    }
                };
                let id = self.assign_var(&var.name, &value, var.span);
                TStmtKind::AssignVar { var: id, value }
            }
            StmtKind::AssignMap { map, op, value } => self.assign_map(map, *op, value, span),
            StmtKind::If { cond, then, els } => {
                let cond = self.expr(cond);
                self.expect_int(&cond, "an if condition");
                let then = self.block(then);
                let els = els.as_ref().map(|b| self.block(b)).unwrap_or_default();
                TStmtKind::If { cond, then, els }
            }
            StmtKind::Unroll { count, body } => {
                let n = match self.const_int(count) {
                    Some(n) if (1..=UNROLL_MAX).contains(&n) => n,
                    Some(_) => {
                        self.error(count.span, "unroll count must be between 1 and 100");
                        1
                    }
                    None => {
                        self.error(count.span, "unroll count must be an integer constant");
                        1
                    }
                };
                let once = self.block(body);
                let size = count_stmts(&once) * n as usize;
                if size > UNROLL_STMTS_MAX {
                    self.error(
                        s.span,
                        format!(
                            "this unroll expands to {size} statements; at most {UNROLL_STMTS_MAX} fit in a probe"
                        ),
                    );
                    return;
                }
                out.extend(once);
                for _ in 1..n {
                    let body = self.block(body);
                    out.extend(body);
                }
                return;
            }
            StmtKind::While { cond, body } => {
                let cond = self.expr(cond);
                self.expect_int(&cond, "a while condition");
                self.loop_depth += 1;
                let body = self.block(body);
                self.loop_depth -= 1;
                TStmtKind::While { cond, body }
            }
            StmtKind::Break | StmtKind::Continue => {
                if self.loop_depth == 0 {
                    let what = if s.kind == StmtKind::Break {
                        "break"
                    } else {
                        "continue"
                    };
                    self.error(span, format!("'{what}' outside of a while loop"));
                }
                if s.kind == StmtKind::Break {
                    TStmtKind::Break
                } else {
                    TStmtKind::Continue
                }
            }
            StmtKind::Return => TStmtKind::Return,
        };
        out.push(TStmt { kind, span });
    }

    /// Statement-level calls: printf, exit, print, clear, zero, delete; `x++` on maps.
    fn action(&mut self, e: &ast::Expr) -> Option<TStmtKind> {
        if let ExprKind::IncDec {
            target, increment, ..
        } = &e.kind
        {
            if let ExprKind::Map(m) = &target.kind {
                let op = if *increment { BinOp::Add } else { BinOp::Sub };
                let one = ast::Expr {
                    kind: ExprKind::Int(1),
                    span: e.span,
                };
                return Some(self.assign_map(m, Some(op), &one, e.span));
            }
            if let ExprKind::Var(name) = &target.kind {
                let op = if *increment { BinOp::Add } else { BinOp::Sub };
                let cur = self.var_read(name, target.span);
                let one = TExpr {
                    kind: TExprKind::Int(1),
                    ty: Type::I64,
                    span: e.span,
                };
                let value = self.binary(op, cur, one, e.span);
                let var = self.assign_var(name, &value, target.span);
                return Some(TStmtKind::AssignVar { var, value });
            }
            return None;
        }
        let ExprKind::Call { name, args } = &e.kind else {
            return None;
        };
        let span = e.span;
        Some(match name.name.as_str() {
            "printf" => self.printf(args, span, event::PRINTF),
            "system" => {
                self.need_unsafe(name, "runs a command on this machine");
                self.printf(args, span, event::SYSTEM)
            }
            "signal" => {
                self.need_unsafe(name, "sends a signal to the traced process");
                self.arity(name, args, 1, 1);
                match args.first() {
                    Some(a) => TStmtKind::Signal(self.signal_number(a)),
                    None => TStmtKind::Exit,
                }
            }
            "exit" => {
                self.arity(name, args, 0, 0);
                TStmtKind::Exit
            }
            "print" | "clear" | "zero" => {
                self.arity(name, args, 1, 1);
                let kind = match name.name.as_str() {
                    "print" => event::PRINT_MAP,
                    "clear" => event::CLEAR_MAP,
                    _ => event::ZERO_MAP,
                };
                match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Map(m)) if m.keys.is_empty() => {
                        let map = self.map_id(&format!("@{}", m.name));
                        self.maps[map as usize].first_use.get_or_insert(m.span);
                        TStmtKind::MapEvent { kind, map }
                    }
                    Some(_) => {
                        let msg = if name.name == "print" {
                            "print() of a value is not supported yet: pass a whole map, as in print(@m)"
                        } else {
                            "expects a whole map, as in clear(@m)"
                        };
                        self.error(args[0].span, format!("{}: {msg}", name.name));
                        TStmtKind::Exit
                    }
                    None => TStmtKind::Exit,
                }
            }
            "delete" => {
                self.arity(name, args, 1, 1);
                match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Map(m)) => {
                        let map = self.map_id(&format!("@{}", m.name));
                        let keys = self.map_keys(map, m);
                        if matches!(
                            self.map_value(map),
                            Some(MapValueType::Hist | MapValueType::Lhist { .. })
                        ) {
                            self.error(
                                span,
                                "delete() of a hist or lhist entry is not supported yet: use clear()",
                            );
                        }
                        TStmtKind::MapDelete { map, keys }
                    }
                    Some(_) => {
                        self.error(
                            args[0].span,
                            "delete() expects a map entry, as in delete(@m[key])",
                        );
                        TStmtKind::Exit
                    }
                    None => TStmtKind::Exit,
                }
            }
            _ => return None,
        })
    }

    pub(super) fn arity(&mut self, name: &ast::Ident, args: &[ast::Expr], min: usize, max: usize) {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            let plural = if max == 1 { "" } else { "s" };
            self.error(
                name.span,
                format!(
                    "{}() takes {want} argument{plural}, but {} given",
                    name.name,
                    args.len()
                ),
            );
        }
    }

    /// Actions that change the system need `--unsafe`, as in bpftrace.
    fn need_unsafe(&mut self, name: &ast::Ident, what: &str) {
        if !self.env.unsafe_actions {
            self.error_diag(
                crate::diag::Diagnostic::error(
                    name.span,
                    format!("{}() {what}: it needs --unsafe", name.name),
                )
                .with_note("run rtrace with --unsafe to allow it"),
            );
        }
    }

    /// signal()'s argument: a signal name (`"SIGUSR1"`, `"KILL"`) or number.
    fn signal_number(&mut self, a: &ast::Expr) -> TExpr {
        if let ExprKind::Str(bytes) = &a.kind {
            let name = String::from_utf8_lossy(bytes);
            let bare = name.strip_prefix("SIG").unwrap_or(&name);
            let n = SIGNALS
                .iter()
                .position(|s| *s == bare)
                .map(|i| i as i64 + 1);
            return match n {
                Some(n) => TExpr {
                    kind: TExprKind::Int(n),
                    ty: Type::I64,
                    span: a.span,
                },
                None => {
                    self.error(a.span, format!("unknown signal '{name}'"));
                    TExpr {
                        kind: TExprKind::Int(0),
                        ty: Type::I64,
                        span: a.span,
                    }
                }
            };
        }
        let e = self.expr(a);
        self.expect_int(&e, "signal()'s argument");
        if let TExprKind::Int(n) = e.kind {
            if !(1..=64).contains(&n) {
                self.error(a.span, format!("{n} is not a signal number (1 to 64)"));
            }
        }
        e
    }

    fn printf(&mut self, args: &[ast::Expr], span: Span, kind: u32) -> TStmtKind {
        let func = if kind == event::SYSTEM {
            "system"
        } else {
            "printf"
        };
        let Some(first) = args.first() else {
            self.error(span, format!("{func}() needs a format string"));
            return TStmtKind::Exit;
        };
        let ExprKind::Str(fmt) = &first.kind else {
            self.error(
                first.span,
                format!("{func}()'s first argument must be a string literal"),
            );
            return TStmtKind::Exit;
        };
        let format = String::from_utf8_lossy(fmt).into_owned();
        let targs: Vec<TExpr> = args[1..].iter().map(|a| self.expr(a)).collect();
        match builtins::printf_conversions(&format) {
            Err(msg) => self.error(first.span, msg),
            Ok(convs) => {
                if convs.len() != targs.len() {
                    self.error(
                        span,
                        format!(
                            "printf: the format string has {} conversion{} but {} argument{} given",
                            convs.len(),
                            if convs.len() == 1 { "" } else { "s" },
                            targs.len(),
                            if targs.len() == 1 { " is" } else { "s are" }
                        ),
                    );
                }
                for (c, a) in convs.iter().zip(&targs) {
                    let ok = match c {
                        's' => !matches!(a.ty, Type::Void),
                        _ => a.ty.is_int(),
                    };
                    if !ok {
                        self.error(
                            a.span,
                            format!("printf: %{c} expects an integer, but this is a {}", a.ty),
                        );
                    }
                }
            }
        }
        let types: Vec<Type> = targs.iter().map(|a| a.ty.clone()).collect();
        let mut offsets = Vec::new();
        let mut off = event::HEADER;
        for t in &types {
            offsets.push(off);
            off += t.layout_size();
        }
        let id = self.printfs.len() as u32;
        self.printfs.push(PrintfInfo {
            kind,
            format,
            args: types,
            offsets,
            size: off,
        });
        TStmtKind::Printf { id, args: targs }
    }

    /// The keys of a use of `@m[...]`, checked against the map's other uses.
    pub(super) fn map_keys(&mut self, map: u32, m: &ast::MapRef) -> Vec<TExpr> {
        let keys: Vec<TExpr> = m.keys.iter().map(|k| self.expr(k)).collect();
        self.use_map_keys(map, &keys, m.span);
        keys
    }

    fn assign_map(
        &mut self,
        m: &ast::MapRef,
        op: Option<BinOp>,
        value: &ast::Expr,
        span: Span,
    ) -> TStmtKind {
        let map = self.map_id(&format!("@{}", m.name));
        let keys = self.map_keys(map, m);
        if let (None, ExprKind::Call { name, args }) = (op, &value.kind) {
            if let Some(kind) = builtins::agg_function(&name.name) {
                return self.assign_agg(map, keys, kind, name, args, span);
            }
            if !builtins::is_function(&name.name) {
                self.error_diag(
                    crate::diag::Diagnostic::error(
                        name.span,
                        format!("unknown map function '{}'", name.name),
                    )
                    .with_note(
                        "map functions are count, sum, avg, min, max, stats, hist and lhist",
                    ),
                );
                return TStmtKind::Exit;
            }
        }
        let rhs = self.expr(value);
        let value = match op {
            None => rhs,
            Some(op) => {
                let cur = TExpr {
                    kind: TExprKind::MapRead {
                        map,
                        keys: keys.clone(),
                    },
                    ty: Type::I64,
                    span: m.span,
                };
                self.binary(op, cur, rhs, span)
            }
        };
        if matches!(value.ty, Type::Void) {
            self.error(value.span, "this returns no value to assign");
        }
        self.use_map_value(map, MapValueType::Plain(value.ty.clone()), span);
        TStmtKind::MapStore { map, keys, value }
    }

    fn assign_agg(
        &mut self,
        map: u32,
        keys: Vec<TExpr>,
        kind: AggKind,
        name: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
    ) -> TStmtKind {
        let (min, max) = match kind {
            AggKind::Count => (0, 0),
            AggKind::Lhist => (4, 4),
            _ => (1, 1),
        };
        self.arity(name, args, min, max);
        if args.len() < min {
            return TStmtKind::Exit;
        }
        let arg = args.first().map(|a| self.expr(a));
        if let Some(a) = &arg {
            self.expect_int(a, &format!("{}()'s argument", name.name));
        }
        let signed = arg.as_ref().is_some_and(|a| a.ty.is_signed());
        let (value, op) = match (kind, arg) {
            (AggKind::Count, _) => (
                MapValueType::Agg {
                    kind,
                    signed: false,
                },
                AggOp::Count,
            ),
            (AggKind::Hist, Some(a)) => (MapValueType::Hist, AggOp::Hist(a)),
            (AggKind::Lhist, Some(a)) => {
                let mut nums = [0i64; 3];
                for (i, e) in args[1..].iter().take(3).enumerate() {
                    match self.const_int(e) {
                        Some(v) => nums[i] = v as i64,
                        None => self.error(
                            e.span,
                            "lhist()'s min, max and step must be integer constants",
                        ),
                    }
                }
                let [lo, hi, step] = nums;
                if self.report && (step <= 0 || hi <= lo) {
                    self.error(
                        span,
                        "lhist() needs min < max and a step above 0, as in lhist(x, 0, 100, 10)",
                    );
                }
                let (lo, hi, step) = if step <= 0 || hi <= lo {
                    (0, 1, 1)
                } else {
                    (lo, hi, step)
                };
                if (i128::from(hi) - i128::from(lo)) / i128::from(step) > 1000 {
                    self.error(span, "lhist() would have more than 1000 buckets");
                }
                (
                    MapValueType::Lhist {
                        min: lo,
                        max: hi,
                        step,
                    },
                    AggOp::Lhist(a),
                )
            }
            (k, Some(a)) => {
                let op = match k {
                    AggKind::Sum => AggOp::Sum(a),
                    AggKind::Min => AggOp::Min(a),
                    AggKind::Max => AggOp::Max(a),
                    _ => AggOp::Avg(a),
                };
                (MapValueType::Agg { kind: k, signed }, op)
            }
            (_, None) => return TStmtKind::Exit,
        };
        self.use_map_value(map, value, span);
        TStmtKind::MapAgg { map, keys, op }
    }

    /// The value of an integer constant expression (literal, negated literal, `$1`).
    pub(super) fn const_int(&mut self, e: &ast::Expr) -> Option<u64> {
        match &e.kind {
            ExprKind::Int(v) => Some(*v),
            ExprKind::Unary {
                op: ast::UnOp::Neg,
                expr,
            } => self.const_int(expr).map(|v| v.wrapping_neg()),
            ExprKind::PosParam(n) => self
                .env
                .params
                .get((*n as usize).wrapping_sub(1))
                .and_then(|p| builtins::parse_int(p)),
            _ => None,
        }
    }
}
