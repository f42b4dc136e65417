//! Checking expressions: builtins, variables, map reads, tracepoint fields, operators, calls.

use super::typed::*;
use super::types::Type;
use super::Checker;
use crate::ast::{self, BinOp, ExprKind, UnOp};
use crate::builtins::{self, Kind};
use crate::probes::elf_dwarf::Place;
use crate::probes::{self, arch, Attach};
use crate::source::Span;

impl Checker<'_> {
    /// A typed expression; on error a diagnostic is recorded and an `int64` zero stands in.
    pub(super) fn expr(&mut self, e: &ast::Expr) -> TExpr {
        let span = e.span;
        let mk = |kind, ty| TExpr { kind, ty, span };
        match &e.kind {
            ExprKind::Int(v) => {
                let ty = if *v > i64::MAX as u64 {
                    Type::U64
                } else {
                    Type::I64
                };
                mk(TExprKind::Int(*v as i64), ty)
            }
            ExprKind::Str(bytes) => self.str_literal(bytes.clone(), span),
            ExprKind::Builtin(name) => self.builtin(name, span),
            ExprKind::PosParam(n) if self.in_str => {
                let text = self.env.params.get((*n as usize).wrapping_sub(1));
                let bytes = text.map_or_else(Vec::new, |t| t.as_bytes().to_vec());
                let ty = Type::Ptr {
                    user: false,
                    to: Some(Box::new(Type::Int {
                        size: 1,
                        signed: true,
                    })),
                };
                mk(TExprKind::StackStr(bytes), ty)
            }
            ExprKind::PosParam(n) => match self.env.params.get((*n as usize).wrapping_sub(1)) {
                Some(p) => match builtins::parse_int(p) {
                    Some(v) => mk(TExprKind::Int(v as i64), Type::I64),
                    None => self.str_literal(p.as_bytes().to_vec(), span),
                },
                // bpftrace reads a missing positional parameter as 0 (or "" in str()).
                None => mk(TExprKind::Int(0), Type::I64),
            },
            ExprKind::PosParamCount => mk(TExprKind::Int(self.env.params.len() as i64), Type::I64),
            ExprKind::Var(name) => self.var_read(name, span),
            ExprKind::Map(m) => {
                let map = self.map_id(&format!("@{}", m.name));
                let keys = self.map_keys(map, m);
                let ty = match self.map_value(map) {
                    Some(MapValueType::Plain(t)) => t,
                    Some(MapValueType::Agg { signed, .. }) => Type::Int { size: 8, signed },
                    Some(MapValueType::Hist | MapValueType::Lhist { .. }) => {
                        self.error(span, "a hist() or lhist() map cannot be read as a value");
                        Type::I64
                    }
                    None => {
                        self.maps[map as usize].first_use.get_or_insert(m.span);
                        Type::I64
                    }
                };
                mk(TExprKind::MapRead { map, keys }, ty)
            }
            ExprKind::Call { name, args } => self.call(name, args, span),
            ExprKind::Unary { op, expr } => {
                let inner = self.expr(expr);
                match op {
                    UnOp::Deref => self.deref(inner, span),
                    UnOp::AddrOf => {
                        self.error(span, "the unary '&' operator is not supported yet");
                        inner
                    }
                    _ => {
                        self.expect_int(&inner, &format!("the operand of '{}'", unop_sym(*op)));
                        let ty = match op {
                            UnOp::Neg => Type::I64,
                            UnOp::Not => Type::U64,
                            _ => Type::Int {
                                size: 8,
                                signed: inner.ty.is_signed(),
                            },
                        };
                        mk(
                            TExprKind::Unary {
                                op: *op,
                                expr: Box::new(inner),
                            },
                            ty,
                        )
                    }
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.expr(lhs);
                let r = self.expr(rhs);
                self.binary(*op, l, r, span)
            }
            ExprKind::Ternary { cond, then, els } => {
                let c = self.expr(cond);
                self.expect_int(&c, "a ternary condition");
                let t = self.expr(then);
                let f = self.expr(els);
                let ty = match t.ty.unify(&f.ty) {
                    Some(ty) => ty,
                    None => {
                        self.error(
                            span,
                            format!(
                                "both branches of '?:' must have the same type, but they are {} and {}",
                                t.ty, f.ty
                            ),
                        );
                        Type::I64
                    }
                };
                mk(
                    TExprKind::Ternary {
                        cond: Box::new(c),
                        then: Box::new(t),
                        els: Box::new(f),
                    },
                    ty,
                )
            }
            ExprKind::Field { expr, field, arrow } => self.field(expr, field, *arrow, span),
            ExprKind::Index { expr, index } => {
                let base = self.expr(expr);
                let index = self.expr(index);
                self.index(base, index, span)
            }
            ExprKind::Tuple(elems) => {
                let elems: Vec<TExpr> = elems.iter().map(|x| self.expr(x)).collect();
                for el in &elems {
                    if matches!(el.ty, Type::Void) {
                        self.error(el.span, format!("a tuple cannot hold a {}", el.ty));
                    }
                }
                let ty = Type::Tuple(elems.iter().map(|x| x.ty.clone()).collect());
                mk(TExprKind::Tuple(elems), ty)
            }
            ExprKind::Cast { ty, expr } => {
                let inner = self.expr(expr);
                match builtins::cast_type(ty) {
                    Some(t) => {
                        self.expect_int(&inner, "a cast's operand");
                        mk(TExprKind::Cast(Box::new(inner)), t)
                    }
                    None => match self.resolve_type(ty) {
                        Some(t @ Type::Ptr { .. }) => self.pointer_cast(inner, t, span),
                        Some(t) => {
                            self.error(
                                ty.span,
                                format!(
                                    "a value cannot be cast to {t}; cast to a pointer, as in ({t} *)"
                                ),
                            );
                            zero(span)
                        }
                        None => zero(span),
                    },
                }
            }
            ExprKind::IncDec {
                target,
                increment,
                prefix,
            } => self.inc_dec(target, *increment, !*prefix, span),
        }
    }

    /// `x++`, `++x`, `x--`, `--x` used for their value.
    fn inc_dec(&mut self, target: &ast::Expr, increment: bool, post: bool, span: Span) -> TExpr {
        let delta = if increment { 1 } else { -1 };
        match &target.kind {
            ExprKind::Var(name) => {
                let cur = self.var_read(name, target.span);
                if !cur.ty.is_int() {
                    self.error(
                        target.span,
                        format!("'++' and '--' need an integer, but ${name} is a {}", cur.ty),
                    );
                    return zero(span);
                }
                // `$v++` widens the variable as `$v = $v + 1` does, so the variable's type
                // always holds what is stored in it.
                let one = TExpr {
                    kind: TExprKind::Int(1),
                    ty: Type::I64,
                    span,
                };
                let sum = self.binary(BinOp::Add, cur.clone(), one, span);
                self.assign_var(name, &sum, target.span);
                let ty = self.var_read(name, target.span).ty;
                let TExprKind::Var(var) = cur.kind else {
                    return zero(span);
                };
                let delta = delta * self.step_of(&ty);
                TExpr {
                    kind: TExprKind::IncVar { var, delta, post },
                    ty,
                    span,
                }
            }
            ExprKind::Map(m) => {
                let map = self.map_id(&format!("@{}", m.name));
                let keys = self.map_keys(map, m);
                // A pointer map keeps its type (it steps by its pointee); others are integers.
                let ty = match self.map_value(map) {
                    Some(MapValueType::Plain(t @ Type::Ptr { .. })) => t,
                    _ => Type::I64,
                };
                self.use_map_value(map, MapValueType::Plain(ty), span);
                let ty = match self.map_value(map) {
                    Some(MapValueType::Plain(t)) if t.is_int() => t,
                    _ => Type::I64,
                };
                let delta = delta * self.step_of(&ty);
                TExpr {
                    kind: TExprKind::IncMap {
                        map,
                        keys,
                        delta,
                        post,
                    },
                    ty,
                    span,
                }
            }
            _ => {
                self.error(
                    target.span,
                    "'++' and '--' apply to a variable or a map entry",
                );
                zero(span)
            }
        }
    }

    fn unsupported(&mut self, span: Span, what: &str) -> TExpr {
        self.error(span, format!("{what} is not supported yet"));
        zero(span)
    }

    fn builtin(&mut self, name: &str, span: Span) -> TExpr {
        match name {
            "args" => {
                self.error(span, "args must be used with a field, as in args->filename");
                return zero(span);
            }
            _ if name == "retval" || arg_index(name).is_some() => {
                return self.pt_regs_arg(name, span)
            }
            _ => {}
        }
        let ident = ast::Ident {
            name: name.to_string(),
            span,
        };
        if let Some(e) = self.builtin_call(&ident, &[], Kind::Variable, span, false) {
            return e;
        }
        if builtins::is_known_variable(name) {
            return self.unsupported(span, &format!("the builtin '{name}'"));
        }
        if let Some(e) = self.defined(name, span) {
            return e;
        }
        if let Some(v) = self.enum_constant(name) {
            return TExpr {
                kind: TExprKind::Int(v),
                ty: Type::I64,
                span,
            };
        }
        self.error(span, format!("unknown identifier '{name}'"));
        zero(span)
    }

    /// `argN` and `retval` of a (u)probe or k(ret)probe: a register of the saved `pt_regs`.
    /// `argN` of a usdt probe comes from its note and of a raw tracepoint from its context's
    /// slots.
    fn pt_regs_arg(&mut self, name: &str, span: Span) -> TExpr {
        match (&self.ctx.attach, arg_index(name)) {
            (Some(Attach::Usdt { .. }), Some(n)) => return self.usdt_arg(n, span),
            (Some(Attach::RawTracepoint { .. }), Some(n)) => {
                return self.raw_tracepoint_arg(n, span)
            }
            _ => {}
        }
        if let (Some(Attach::Fentry { ret: true, func }), "retval") = (&self.ctx.attach, name) {
            let has = self.ctx.format.as_ref().is_some_and(|f| {
                f.fields
                    .iter()
                    .any(|f| f.name == probes::kfunc::RETVAL_FIELD)
            });
            if !has {
                let func = func.clone();
                self.error(
                    span,
                    format!("retval is not available: the kernel's BTF says {func} returns void"),
                );
                return zero(span);
            }
            let field = ast::Ident {
                name: probes::kfunc::RETVAL_FIELD.into(),
                span,
            };
            return self.tracepoint_field(&field, span);
        }
        let ok = match &self.ctx.attach {
            Some(Attach::Uprobe { ret, .. } | Attach::Kprobe { ret, .. }) => {
                *ret == (name == "retval")
            }
            _ => false,
        };
        if !ok {
            let want = if name == "retval" {
                "uretprobe, kretprobe and kretfunc"
            } else {
                "uprobe, kprobe, usdt and rawtracepoint"
            };
            self.error(span, format!("{name} is only available in {want} probes"));
            return zero(span);
        }
        let Some(offset) = arch::pt_regs_offset(name) else {
            self.error(
                span,
                format!("{} doesn't support {name}", std::env::consts::ARCH),
            );
            return zero(span);
        };
        TExpr {
            kind: TExprKind::CtxField(CtxField::register(offset)),
            ty: Type::U64,
            span,
        }
    }

    /// `argN` of a raw tracepoint: the context's 8-byte slot N, which must be one of the
    /// tracepoint's arguments when BTF says how many it has (else one of `MAX_ARGS`).
    fn raw_tracepoint_arg(&mut self, n: usize, span: Span) -> TExpr {
        // Its arguments from BTF, read on first use (a script without `argN` reads no BTF).
        if let (None, Some(Attach::RawTracepoint { name })) = (&self.ctx.format, &self.ctx.attach) {
            self.ctx.format = self
                .catalogue
                .btf()
                .ok()
                .and_then(|b| probes::rawtracepoint::args_format(b, name));
        }
        let count = self
            .ctx
            .format
            .as_ref()
            .map_or(probes::rawtracepoint::MAX_ARGS, |f| f.fields.len());
        if n >= count {
            let probe = self.ctx.text.clone();
            let plural = if count == 1 { "" } else { "s" };
            let known = if self.ctx.format.is_some() {
                "the kernel's BTF gives it"
            } else {
                "a raw tracepoint has at most"
            };
            self.error(
                span,
                format!("{probe}: arg{n} does not exist ({known} {count} argument{plural})"),
            );
            return zero(span);
        }
        TExpr {
            kind: TExprKind::CtxField(CtxField::register(8 * n as u32)),
            ty: Type::U64,
            span,
        }
    }

    pub(super) fn var_read(&mut self, name: &str, span: Span) -> TExpr {
        match self.vars.get(name) {
            Some(&(id, true)) => {
                let ty = self.var_types[self.probe_index]
                    .get(name)
                    .cloned()
                    .unwrap_or(Type::I64);
                TExpr {
                    kind: TExprKind::Var(id),
                    ty,
                    span,
                }
            }
            _ => {
                self.error(span, format!("undefined variable '${name}'"));
                zero(span)
            }
        }
    }

    /// Records an assignment to `$name` and returns its id.
    pub(super) fn assign_var(&mut self, name: &str, value: &TExpr, span: Span) -> VarId {
        if matches!(value.ty, Type::Void) {
            self.error(value.span, "this returns no value to assign");
        }
        let types = &mut self.var_types[self.probe_index];
        match types.get(name) {
            None => {
                types.insert(name.to_string(), value.ty.clone());
            }
            Some(old) => match old.unify(&value.ty) {
                Some(t) => {
                    types.insert(name.to_string(), t);
                }
                None => {
                    let msg = format!(
                        "variable '${name}' holds {old}, so it cannot be assigned {}",
                        value.ty
                    );
                    self.error(span, msg);
                }
            },
        }
        let next = self.vars.len() as VarId;
        let entry = self.vars.entry(name.to_string()).or_insert((next, true));
        entry.1 = true;
        entry.0
    }

    pub(super) fn binary(&mut self, op: BinOp, l: TExpr, r: TExpr, span: Span) -> TExpr {
        let mk = |kind, ty| TExpr { kind, ty, span };
        // Values in memory of one type (buffers, structs, arrays) compare byte for byte, as
        // zero-padded strings do.
        let same_in_memory = match (&l.ty, &r.ty) {
            (Type::Formatted(a), Type::Formatted(b)) => a.builtin == b.builtin,
            (a, b) => a == b && !a.is_int() && *a != Type::Void,
        };
        if l.ty.is_str() || r.ty.is_str() || same_in_memory {
            if (same_in_memory || l.ty.is_str() && r.ty.is_str())
                && matches!(op, BinOp::Eq | BinOp::Ne)
            {
                self.warn_literal_too_long(&l, &r, span);
                return mk(
                    TExprKind::StrEq {
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                        negate: op == BinOp::Ne,
                    },
                    Type::U64,
                );
            }
            self.error(
                span,
                format!("'{}' cannot be used on {} and {}", op.symbol(), l.ty, r.ty),
            );
            return zero(span);
        }
        for side in [&l, &r] {
            if !side.ty.is_int() {
                self.error(
                    side.span,
                    format!(
                        "'{}' needs integers, but this is a {}",
                        op.symbol(),
                        side.ty
                    ),
                );
                return zero(span);
            }
        }
        if matches!(op, BinOp::Add | BinOp::Sub)
            && matches!(l.ty, Type::Ptr { to: Some(_), .. })
            && !matches!(r.ty, Type::Ptr { .. })
        {
            return self.pointer_arith(op, l, r, span);
        }
        self.warn_signs(op, &l, &r, span);
        let signed = l.ty.is_signed() && r.ty.is_signed();
        if matches!(op, BinOp::And | BinOp::Or) {
            return mk(
                TExprKind::Logical {
                    and: op == BinOp::And,
                    lhs: Box::new(l),
                    rhs: Box::new(r),
                },
                Type::U64,
            );
        }
        let ty = match op {
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => Type::U64,
            _ => Type::Int { size: 8, signed },
        };
        mk(
            TExprKind::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
                signed,
            },
            ty,
        )
    }

    /// bpftrace's warning for a string compared with a literal longer than it can hold.
    fn warn_literal_too_long(&mut self, l: &TExpr, r: &TExpr, span: Span) {
        let (lit, other) = match (&l.kind, &r.kind) {
            (TExprKind::Str(b) | TExprKind::StackStr(b), _) => (b, r),
            (_, TExprKind::Str(b) | TExprKind::StackStr(b)) => (b, l),
            _ => return,
        };
        if matches!(other.kind, TExprKind::Str(_) | TExprKind::StackStr(_)) {
            return;
        }
        if let Type::Str { size } = other.ty {
            if lit.len() as u32 > size {
                self.warn(
                    span,
                    format!(
                        "The literal is longer than the variable string (size={size}), \
                         condition will always be false"
                    ),
                );
            }
        }
    }

    /// bpftrace's warning for integers of different signs compared or combined (a literal
    /// that is not negative counts as unsigned, as there).
    fn warn_signs(&mut self, op: BinOp, l: &TExpr, r: &TExpr, span: Span) {
        let signed = |e: &TExpr| e.ty.is_signed() && !matches!(e.kind, TExprKind::Int(v) if v >= 0);
        let ints = matches!(l.ty, Type::Int { .. }) && matches!(r.ty, Type::Int { .. });
        if !ints || signed(l) == signed(r) || l.ty.is_signed() == r.ty.is_signed() {
            return;
        }
        let what = match op {
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                "comparison of"
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => "arithmetic on",
            _ => return,
        };
        let name = |t: &Type| match t {
            Type::Int { size, signed: true } => format!("int{}", size * 8),
            Type::Int {
                size,
                signed: false,
            } => format!("unsigned int{}", size * 8),
            other => other.to_string(),
        };
        self.warn(
            span,
            format!(
                "{what} integers of different signs: '{}' and '{}' can lead to undefined \
                 behavior",
                name(&l.ty),
                name(&r.ty)
            ),
        );
    }

    fn call(&mut self, name: &ast::Ident, args: &[ast::Expr], span: Span) -> TExpr {
        if let Some(e) = self.builtin_call(name, args, Kind::Function, span, false) {
            return e;
        }
        let n = name.name.as_str();
        if builtins::lookup(n, Kind::MapFunction).is_some() {
            self.error(
                span,
                format!("{n}() must be assigned to a map, as in @x = {n}(...)"),
            );
            return zero(span);
        }
        if builtins::is_function(n) {
            return self.unsupported(span, &format!("the function '{n}()'"));
        }
        if builtins::lookup(n, Kind::Variable).is_some() {
            self.error(
                span,
                format!(
                    "'{n}' is a builtin variable, not a function: write it without parentheses"
                ),
            );
            return zero(span);
        }
        self.error(name.span, format!("unknown function '{n}'"));
        zero(span)
    }

    fn field(&mut self, base: &ast::Expr, field: &ast::Ident, arrow: bool, span: Span) -> TExpr {
        if let ExprKind::Builtin(b) = &base.kind {
            let iter = matches!(self.ctx.attach, Some(Attach::Iter { .. }));
            if b == "args" && !iter {
                if !arrow {
                    self.error(span, "use 'args->field' to read a tracepoint argument");
                }
                return self.tracepoint_field(field, span);
            }
            // An iterator's context (`struct bpf_iter__task *`): its fields are read from
            // the context itself, as the verifier requires.
            if b == "ctx" && iter {
                if !arrow {
                    self.error(span, "use 'ctx->field' to read an iterator's context");
                }
                return self.tracepoint_field(field, span);
            }
            if b == "args" {
                self.error(
                    span,
                    "args is not available in iter probes: their context is ctx (ctx->task)",
                );
                return zero(span);
            }
        }
        let t = self.expr(base);
        if let Type::Tuple(elems) = &t.ty {
            let elems = elems.clone();
            return match field.name.parse::<usize>() {
                Ok(i) if i < elems.len() => TExpr {
                    kind: TExprKind::TupleField {
                        tuple: Box::new(t),
                        index: i,
                    },
                    ty: elems[i].clone(),
                    span,
                },
                _ => {
                    self.error(
                        field.span,
                        format!(
                            "this tuple has {} elements: use .0 to .{}",
                            elems.len(),
                            elems.len() - 1
                        ),
                    );
                    zero(span)
                }
            };
        }
        self.member(t, field, arrow, span)
    }

    /// A tracepoint field that is an array of `len` integers of `elem` bytes at `offset` of the
    /// record: an array read through the context pointer.
    fn tracepoint_array(
        &mut self,
        offset: u32,
        elem: u32,
        len: u32,
        signed: bool,
        span: Span,
    ) -> TExpr {
        let ctx = builtins::lookup("ctx", Kind::Variable).map(|(id, _)| TExpr {
            kind: TExprKind::Call {
                builtin: id,
                args: Vec::new(),
                data: Vec::new(),
            },
            ty: Type::KPTR,
            span,
        });
        let Some(ctx) = ctx else {
            return zero(span);
        };
        let addr = TExpr {
            kind: TExprKind::Binary {
                op: BinOp::Add,
                lhs: Box::new(ctx),
                rhs: Box::new(TExpr {
                    kind: TExprKind::Int(i64::from(offset)),
                    ty: Type::I64,
                    span,
                }),
                signed: false,
            },
            ty: Type::U64,
            span,
        };
        TExpr {
            kind: TExprKind::MemRead {
                addr: Box::new(addr),
                user: false,
            },
            ty: Type::Array {
                elem: Box::new(Type::Int {
                    size: elem as u8,
                    signed,
                }),
                len,
            },
            span,
        }
    }

    /// The type of argument `name` of the function the current uprobe traces, from the
    /// traced file's DWARF.
    fn uprobe_param(&mut self, name: &str) -> Option<Type> {
        let Some(Attach::Uprobe {
            symbol: Some(func), ..
        }) = self.ctx.attach.clone()
        else {
            return None;
        };
        let dwarf = self.probe_dwarf()?;
        dwarf.param_type(&func, name, &mut self.types)
    }

    /// Why argument `name` of the current uprobe's function, which its DWARF declares, is
    /// not in `args`: passed on the stack, by value in more than a register, or a float.
    fn unreadable_uprobe_arg(&self, name: &str) -> Option<String> {
        let Some(Attach::Uprobe {
            path,
            symbol: Some(func),
            ..
        }) = &self.ctx.attach
        else {
            return None;
        };
        let params = self.catalogue.dwarf_params(path, func)?;
        let (i, p) = params.iter().enumerate().find(|(_, p)| p.name == name)?;
        let (n, ty) = (i + 1, &p.type_name);
        Some(match p.place {
            Place::Register(r) if arch::pt_regs_offset(&format!("arg{r}")).is_some() => format!(
                "'{name}' of {func} is a {ty} of {} bytes, which rtrace cannot read as an \
                 argument",
                p.size
            ),
            Place::Register(r) => format!(
                "'{name}' ({ty}) of {func} is in argument register {r}, which rtrace does not read"
            ),
            Place::ByValue => format!(
                "'{name}' of {func} is a {ty} passed by value, which rtrace cannot read as an \
                 argument"
            ),
            Place::Float => format!(
                "'{name}' of {func} is a {ty}, passed in a floating point register, which \
                 rtrace does not read"
            ),
            Place::Stack => format!(
                "'{name}' ({ty}) is argument {n} of {func}, passed on the stack: rtrace reads \
                 the arguments passed in registers"
            ),
            Place::Unknown => format!(
                "'{name}' ({ty}) is argument {n} of {func}, whose register rtrace cannot tell: \
                 an earlier argument is a small struct with floating point members"
            ),
        })
    }

    fn tracepoint_field(&mut self, field: &ast::Ident, span: Span) -> TExpr {
        // A function's entry: `args` from the file's DWARF, when it has it, read on first use
        // (bpftrace 0.17 too reads a uprobe's arguments only for a script that uses them).
        if let (
            None,
            Some(Attach::Uprobe {
                path,
                symbol: Some(func),
                offset: 0,
                ret: false,
            }),
        ) = (&self.ctx.format, &self.ctx.attach)
        {
            self.ctx.format = self.catalogue.uprobe_args(path, func);
        }
        // A raw tracepoint's format only counts its `argN` slots: it has no `args`.
        let raw = matches!(self.ctx.attach, Some(Attach::RawTracepoint { .. }));
        let Some(format) = self.ctx.format.as_ref().filter(|_| !raw) else {
            let what = match &self.ctx.attach {
                Some(Attach::Begin) => "BEGIN probes",
                Some(Attach::End) => "END probes",
                _ => "this kind of probe",
            };
            self.error(
                span,
                format!("args is not available in {what}; it holds a tracepoint's fields"),
            );
            return zero(span);
        };
        let Some(f) = format.fields.iter().find(|f| f.name == field.name).cloned() else {
            if let Some(why) = self.unreadable_uprobe_arg(&field.name) {
                self.error(field.span, why);
                return zero(span);
            }
            let what = match &self.ctx.attach {
                Some(Attach::Tracepoint { category, name }) => {
                    format!("tracepoint {category}:{name} has no field")
                }
                Some(a @ Attach::Uprobe { .. }) => format!("{a} has no argument"),
                Some(a @ Attach::Iter { .. }) => format!("the context of {a} has no field"),
                Some(a @ Attach::Fentry { .. }) => format!("{a} has no argument"),
                _ => "the probe has no field".to_string(),
            };
            let fields: Vec<&str> = format
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .filter(|n| *n != probes::kfunc::RETVAL_FIELD)
                .collect();
            self.error_diag(
                crate::diag::Diagnostic::error(field.span, format!("{what} '{}'", field.name))
                    .with_note(format!("its fields are: {}", fields.join(", "))),
            );
            return zero(span);
        };
        // Pointers a syscall or a user function received point into user memory.
        let is_uprobe = matches!(&self.ctx.attach, Some(Attach::Uprobe { .. }));
        // Arguments typed from debug information (DWARF or BTF): `int *` points to an int.
        let typed_args = is_uprobe || matches!(&self.ctx.attach, Some(Attach::Fentry { .. }));
        let user = matches!(&self.ctx.attach, Some(Attach::Tracepoint { category, .. }) if category == "syscalls")
            || is_uprobe;
        let char_array = f.array_len.is_some() && f.c_type.contains("char");
        let ty = if f.data_loc {
            Type::KPTR
        } else if char_array {
            Type::Str {
                size: f.array_len.unwrap_or(0) + 1,
            }
        } else if f.pointer {
            // `struct __kernel_timespec *`: typed from BTF when it has the struct, so that
            // `args->rqtp->tv_sec` reads through it.
            let pointee = f
                .c_type
                .split_whitespace()
                .filter(|w| !matches!(*w, "const" | "volatile" | "__user"))
                .collect::<Vec<_>>()
                .join(" ");
            // A uprobe's argument: its type from the file's DWARF (`struct Foo *`, `char **`),
            // records given their members when used.
            let from_dwarf = if is_uprobe {
                self.uprobe_param(&f.name)
            } else {
                None
            };
            let to = match pointee.strip_suffix('*').map(str::trim) {
                _ if from_dwarf.is_some() => match from_dwarf {
                    Some(Type::Ptr { to, .. }) => to,
                    _ => None,
                },
                Some(name) if name.starts_with("struct ") && !name.contains('*') => {
                    match self.kernel_type(name) {
                        Some(Type::Ptr { to, .. }) => to,
                        _ => None,
                    }
                }
                // `int *` (a uprobe argument from DWARF): `*args->n` reads an int.
                Some(name) if !name.contains('*') && typed_args => {
                    builtins::cast_type(&ast::TypeName {
                        name: name.to_string(),
                        pointer_depth: 0,
                        array_len: None,
                        array_more: Vec::new(),
                        span,
                    })
                    .map(Box::new)
                }
                _ => None,
            };
            Type::Ptr { user, to }
        } else if let Some(len) = f.array_len.filter(|&n| n > 0 && f.size % n == 0) {
            // A fixed array of integers (`__u8 saddr[4]`): read from the record like memory.
            return self.tracepoint_array(f.offset, f.size / len, len, f.signed, span);
        } else if !matches!(f.size, 1 | 2 | 4 | 8) {
            self.error(
                span,
                format!(
                    "the field '{}' ({}, {} bytes) cannot be read",
                    f.name, f.c_type, f.size
                ),
            );
            return zero(span);
        } else {
            Type::Int {
                size: f.size as u8,
                signed: f.signed,
            }
        };
        TExpr {
            kind: TExprKind::CtxField(CtxField {
                offset: f.offset,
                size: f.size,
                signed: f.signed,
                data_loc: f.data_loc,
                inline_array: char_array,
                // As bpftrace 0.17 does in iterators: a field that reads 0 (the NULL task of
                // the iteration's last call) ends the probe.
                end_if_zero: matches!(self.ctx.attach, Some(Attach::Iter { .. })),
            }),
            ty,
            span,
        }
    }
}

use builtins::zero;

fn unop_sym(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "-",
        UnOp::Not => "!",
        UnOp::BitNot => "~",
        UnOp::Deref => "*",
        UnOp::AddrOf => "&",
    }
}

/// N of `argN` (`arg0`, `arg12`); `None` for any other name.
fn arg_index(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("arg")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
