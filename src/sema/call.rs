//! Checking uses of builtin variables and functions through the builtin registry: the rules
//! every builtin shares (arity, `--unsafe`, probe types, statement-only actions), then the
//! entry's own type rule. Also the checker's side of the `CheckCx` contract.

use super::typed::*;
use super::types::{Field, RecordRef, Type, STRLEN};
use super::Checker;
use crate::ast::{self, ExprKind};
use crate::builtins::{self, CheckCx, Checked, Kind};
use crate::diag::Diagnostic;
use crate::probes::Attach;
use crate::source::Span;

impl Checker<'_> {
    /// A builtin variable or function used at `span`. `statement` is true for a call that is a
    /// whole statement, where actions that return nothing belong.
    pub(super) fn builtin_call(
        &mut self,
        name: &ast::Ident,
        args: &[ast::Expr],
        kind: Kind,
        span: Span,
        statement: bool,
    ) -> Option<TExpr> {
        let (id, b) = builtins::lookup(&name.name, kind)?;
        let (min, max) = b.args;
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
            return Some(builtins::zero(span));
        }
        if let Some(what) = b.needs_unsafe {
            if !self.env.unsafe_actions {
                self.error_diag(
                    Diagnostic::error(name.span, format!("{}() {what}: it needs --unsafe", b.name))
                        .with_note("run rtrace with --unsafe to allow it"),
                );
            }
        }
        if let Some((valid, where_)) = b.probes {
            if !valid(self.attach()) {
                let what = match kind {
                    Kind::Variable => b.name.to_string(),
                    Kind::Function | Kind::MapFunction => format!("{}()", b.name),
                };
                self.error(span, format!("{what} is only available in {where_}"));
                return Some(builtins::zero(span));
            }
        }
        let call = builtins::Call {
            id,
            name,
            args,
            span,
        };
        let e = match (b.check)(self, &call) {
            Checked::Call { ty, args, data } => TExpr {
                kind: TExprKind::Call {
                    builtin: id,
                    args,
                    data,
                },
                ty,
                span,
            },
            Checked::Expr(e) => e,
            Checked::Error => builtins::zero(span),
        };
        if e.ty == Type::Void && !statement {
            self.error(
                span,
                format!(
                    "{}() returns no value and cannot be used in an expression",
                    b.name
                ),
            );
            return Some(builtins::zero(span));
        }
        Some(e)
    }

    /// The probe being checked (BEGIN while none is).
    fn attach(&self) -> &Attach {
        self.ctx.attach.as_ref().unwrap_or(&Attach::Begin)
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

    pub(super) fn str_literal(&mut self, bytes: Vec<u8>, span: Span) -> TExpr {
        let size = bytes.len() as u32 + 1;
        if size > STRLEN * 4 {
            self.error(
                span,
                format!(
                    "string literal is too long ({} bytes, at most {})",
                    size - 1,
                    STRLEN * 4 - 1
                ),
            );
        }
        TExpr {
            kind: TExprKind::Str(bytes),
            ty: Type::Str { size },
            span,
        }
    }
}

impl CheckCx for Checker<'_> {
    fn expr(&mut self, e: &ast::Expr) -> TExpr {
        Checker::expr(self, e)
    }

    fn str_arg(&mut self, e: &ast::Expr) -> TExpr {
        let outer = std::mem::replace(&mut self.in_str, true);
        let t = Checker::expr(self, e);
        self.in_str = outer;
        t
    }

    fn error(&mut self, span: Span, msg: String) {
        Checker::error(self, span, msg);
    }

    fn diag(&mut self, d: Diagnostic) {
        self.error_diag(d);
    }

    fn reporting(&self) -> bool {
        self.report
    }

    fn warn(&mut self, span: Span, msg: String) {
        Checker::warn(self, span, msg);
    }

    fn in_loop(&self) -> bool {
        self.loop_depth > 0
    }

    fn attach(&self) -> &Attach {
        Checker::attach(self)
    }

    fn probe_name(&self) -> &str {
        &self.ctx.text
    }

    fn has_command(&self) -> bool {
        self.env.has_command
    }

    fn strlen(&self) -> u32 {
        self.env.strlen
    }

    fn kernel_symbol(&self, name: &str) -> Option<u64> {
        self.catalogue.kernel_symbol(name)
    }

    fn cgroup_id(&self, path: &str) -> Result<u64, String> {
        self.catalogue.cgroup_id(path)
    }

    fn param(&self, n: u32) -> Option<String> {
        self.env.params.get((n as usize).checked_sub(1)?).cloned()
    }

    fn const_int(&mut self, e: &ast::Expr) -> Option<u64> {
        Checker::const_int(self, e)
    }

    fn str_literal(&mut self, bytes: Vec<u8>, span: Span) -> TExpr {
        Checker::str_literal(self, bytes, span)
    }

    fn format_record(&mut self, kind: u32, format: String, args: &[TExpr]) -> u32 {
        let types: Vec<Type> = args.iter().map(|a| a.ty.clone()).collect();
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
            call: None,
            map_print: None,
        });
        id
    }

    fn map_print_record(&mut self, map: MapIdx, top: u64, div: u64) -> u32 {
        let id = CheckCx::format_record(self, event::PRINT_MAP_TOP, String::new(), &[]);
        self.printfs[id as usize].map_print = Some((map, top, div));
        id
    }

    fn call_record(&mut self, builtin: BuiltinId, param: String, args: &[TExpr]) -> u32 {
        let id = CheckCx::format_record(self, event::CALL, param, args);
        self.printfs[id as usize].call = Some(builtin);
        id
    }

    fn whole_map(&mut self, m: &ast::MapRef) -> MapIdx {
        let map = self.map_id(&format!("@{}", m.name));
        self.maps[map as usize].first_use.get_or_insert(m.span);
        map
    }

    fn map_entry(&mut self, m: &ast::MapRef) -> (MapIdx, Vec<TExpr>) {
        let map = self.map_id(&format!("@{}", m.name));
        let keys = self.map_keys(map, m);
        (map, keys)
    }

    fn map_value(&self, map: MapIdx) -> Option<MapValueType> {
        Checker::map_value(self, map)
    }

    fn member(&mut self, record: &RecordRef, name: &str) -> Option<Field> {
        self.record_field(record, name)
    }

    fn kernel_pointer(&mut self, record: &str) -> Option<Type> {
        self.kernel_type(record)
    }

    fn stack_map(&mut self, limit: u32) -> MapIdx {
        if !self.stack_limits.contains(&limit) {
            self.stack_limits.push(limit);
        }
        super::stack_map_index(self.maps.len(), &self.stack_limits, limit)
    }

    fn user_object(&self, path: &str, name: &str) -> Result<Option<(u64, u64)>, String> {
        self.catalogue.user_object(path, name)
    }

    fn type_named(&mut self, text: &str, span: Span) -> Option<Type> {
        let stars = text
            .chars()
            .rev()
            .take_while(|c| *c == '*' || *c == ' ')
            .count();
        let (name, pointers) = text.split_at(text.len() - stars);
        let ty = ast::TypeName {
            name: name.trim().to_string(),
            pointer_depth: pointers.matches('*').count() as u8,
            array_len: None,
            array_more: Vec::new(),
            span,
        };
        let is_type = builtins::cast_type(&ast::TypeName {
            pointer_depth: 0,
            ..ty.clone()
        })
        .is_some()
            || ty.name.starts_with("struct ")
            || ty.name.starts_with("union ")
            || ty.pointer_depth > 0;
        if !is_type {
            return None;
        }
        self.resolve_type(&ty)
    }
}
