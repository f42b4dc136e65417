//! Checking statements: assignments, map functions, printf and the other actions, control flow.

use super::typed::*;
use super::types::Type;
use super::Checker;
use crate::ast::{self, BinOp, ExprKind, StmtKind};
use crate::builtins::{self, Kind};
use crate::source::Span;

/// How many statements unrolling may produce in one place: far more than a probe can hold
/// within the kernel's limits, and far less than would make compiling slow.
const UNROLL_STMTS_MAX: usize = 20_000;

/// Statements in a checked block, nested ones included.
fn count_stmts(stmts: &[TStmt]) -> usize {
    stmts
        .iter()
        .map(|s| 1 + s.blocks().into_iter().map(count_stmts).sum::<usize>())
        .sum()
}

/// `unroll (N)` accepts 1 to 100 repetitions, as bpftrace does.
const UNROLL_MAX: u64 = 100;

impl Checker<'_> {
    pub(super) fn block(&mut self, b: &ast::Block) -> Vec<TStmt> {
        let mut out = Vec::new();
        for (i, s) in b.stmts.iter().enumerate() {
            let jump = match s.kind {
                StmtKind::Return => Some("return"),
                StmtKind::Break => Some("break"),
                StmtKind::Continue => Some("continue"),
                _ => None,
            };
            if let Some(jump) = jump.filter(|_| i + 1 < b.stmts.len()) {
                self.warn(s.span, format!("All code after a '{jump}' is unreachable."));
            }
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
                    Some(n) => {
                        // bpftrace 0.17's words.
                        let msg = if n > UNROLL_MAX {
                            "unroll maximum value is 100"
                        } else {
                            "unroll minimum value is 1"
                        };
                        self.error(count.span, msg);
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
                // The read of `@m++` is the whole `@m++`, where bpftrace's -kk reports it.
                let m = ast::MapRef {
                    span: e.span,
                    ..m.clone()
                };
                return Some(self.assign_map(&m, Some(op), &one, e.span));
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
        // `cond ? printf("a") : printf("b");` is an if/else of two statements.
        if let ExprKind::Ternary { cond, then, els } = &e.kind {
            let is_call = |x: &ast::Expr| matches!(x.kind, ExprKind::Call { .. });
            if is_call(then) && is_call(els) {
                let cond = self.expr(cond);
                self.expect_int(&cond, "a ternary condition");
                let branch = |c: &mut Self, x: &ast::Expr| {
                    let kind = c.action(x).unwrap_or_else(|| TStmtKind::Expr(c.expr(x)));
                    vec![TStmt { kind, span: x.span }]
                };
                let then = branch(self, then);
                let els = branch(self, els);
                return Some(TStmtKind::If { cond, then, els });
            }
        }
        let ExprKind::Call { name, args } = &e.kind else {
            return None;
        };
        let call = self.builtin_call(name, args, Kind::Function, e.span, true)?;
        Some(TStmtKind::Expr(call))
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
            if builtins::lookup(&name.name, Kind::MapFunction).is_some() {
                return self.assign_agg(map, keys, name, args, (span, value.span));
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
                return TStmtKind::Expr(builtins::zero(span));
            }
        }
        let rhs = self.expr(value);
        let value = match op {
            None => rhs,
            Some(op) => {
                // The current value: a pointer keeps its type (it steps by its pointee);
                // integers read as int64, as bpftrace reads them.
                let ty = match self.map_value(map) {
                    Some(MapValueType::Plain(t @ Type::Ptr { .. })) => t,
                    _ => Type::I64,
                };
                let cur = TExpr {
                    kind: TExprKind::MapRead {
                        map,
                        keys: keys.clone(),
                    },
                    ty,
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

    /// `@m[k] = f(...)` for a map function `f`: its type rule, then the value type it gives
    /// the map.
    fn assign_agg(
        &mut self,
        map: u32,
        keys: Vec<TExpr>,
        name: &ast::Ident,
        args: &[ast::Expr],
        (span, call_span): (Span, Span),
    ) -> TStmtKind {
        let error = TStmtKind::Expr(builtins::zero(span));
        let Some(call) = self.builtin_call(name, args, Kind::MapFunction, span, true) else {
            return error;
        };
        let TExprKind::Call {
            builtin,
            args: targs,
            ..
        } = call.kind
        else {
            return error;
        };
        let Some(mapfn) = builtins::get(builtin).map else {
            return error;
        };
        let call = builtins::Call {
            id: builtin,
            name,
            args,
            span,
        };
        let Some(value) = (mapfn.value)(self, &call, &targs) else {
            return error;
        };
        self.use_map_value(map, value, span);
        TStmtKind::MapAgg {
            map,
            keys,
            func: builtin,
            args: targs,
            call_span,
        }
    }
}
