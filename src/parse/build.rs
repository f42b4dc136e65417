//! Actions of the grammar in grammar/rtrace.lalrpop: build AST nodes from what the grammar
//! matched, tracking expression depth so no later recursive pass meets a pathological tree.

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lex::Tok;
use crate::parse::tokens::MAX_DEPTH;
use crate::source::Span;
use lalrpop_util::ParseError;

/// What a fallible action returns.
pub type Res<T> = Result<T, ParseError<usize, Tok, Diagnostic>>;

/// An expression with the height of its tree.
pub struct Node {
    pub expr: Expr,
    pub depth: u32,
}

/// A map reference with the height of its deepest key.
pub struct MapNode {
    pub map: MapRef,
    pub depth: u32,
}

/// One word of a struct field declaration: `unsigned`, `*`, `name`, `[16]`.
#[derive(Clone, Debug)]
pub enum Piece {
    Word(String, Span),
    Star(Span),
    Array(u64, Span),
    /// `: N` of a bitfield.
    Bits(u64, Span),
    /// `,` between declarators sharing one type.
    Comma(Span),
    /// A record defined in place (`struct { int x; }`): its definitions, inner ones first,
    /// and the type name they give it.
    Nested(Vec<StructDef>, String, Span),
}

fn user(span: Span, message: &str) -> ParseError<usize, Tok, Diagnostic> {
    ParseError::User {
        error: Diagnostic::error(span, message),
    }
}

fn node(kind: ExprKind, span: Span, child_depth: u32) -> Res<Node> {
    let depth = child_depth + 1;
    if depth > MAX_DEPTH {
        let at = span.start as usize;
        return Err(user(Span::new(at, at + 1), "expression nested too deeply"));
    }
    Ok(Node {
        expr: Expr { kind, span },
        depth,
    })
}

fn max_depth(nodes: &[Node]) -> u32 {
    nodes.iter().map(|n| n.depth).max().unwrap_or(0)
}

fn exprs(nodes: Vec<Node>) -> Vec<Expr> {
    nodes.into_iter().map(|n| n.expr).collect()
}

pub fn span(l: usize, r: usize) -> Span {
    Span::new(l, r)
}

pub fn leaf(kind: ExprKind, l: usize, r: usize) -> Node {
    Node {
        expr: Expr {
            kind,
            span: span(l, r),
        },
        depth: 1,
    }
}

pub fn unary(op: UnOp, e: Node, l: usize) -> Res<Node> {
    let s = span(l, e.expr.span.end as usize);
    node(
        ExprKind::Unary {
            op,
            expr: Box::new(e.expr),
        },
        s,
        e.depth,
    )
}

pub fn binary(op: BinOp, a: Node, b: Node) -> Res<Node> {
    let s = a.expr.span.to(b.expr.span);
    let d = a.depth.max(b.depth);
    let kind = ExprKind::Binary {
        op,
        lhs: Box::new(a.expr),
        rhs: Box::new(b.expr),
    };
    node(kind, s, d)
}

pub fn ternary(c: Node, t: Node, e: Node) -> Res<Node> {
    let s = c.expr.span.to(e.expr.span);
    let d = c.depth.max(t.depth).max(e.depth);
    let kind = ExprKind::Ternary {
        cond: Box::new(c.expr),
        then: Box::new(t.expr),
        els: Box::new(e.expr),
    };
    node(kind, s, d)
}

/// `e->f`, `e.f`: the span starts where the rule does (at the `(` of `(e)->f`), as
/// bpftrace's locations do.
pub fn field(l: usize, e: Node, field: Ident, arrow: bool) -> Res<Node> {
    let s = span(l, field.span.end as usize);
    let kind = ExprKind::Field {
        expr: Box::new(e.expr),
        field,
        arrow,
    };
    node(kind, s, e.depth)
}

pub fn index(e: Node, i: Node, r: usize) -> Res<Node> {
    let s = span(e.expr.span.start as usize, r);
    let d = e.depth.max(i.depth);
    let kind = ExprKind::Index {
        expr: Box::new(e.expr),
        index: Box::new(i.expr),
    };
    node(kind, s, d)
}

pub fn call(name: Ident, args: Vec<Node>, r: usize) -> Res<Node> {
    let s = span(name.span.start as usize, r);
    let d = max_depth(&args);
    let kind = ExprKind::Call {
        name,
        args: exprs(args),
    };
    node(kind, s, d)
}

/// `sizeof(struct foo)`, `offsetof(struct foo, field)`: the type (and the field) are passed
/// on as bare names, as bpftrace does.
pub fn call_with_type(name: Ident, ty: TypeName, field: Option<Ident>, r: usize) -> Res<Node> {
    let stars = "*".repeat(usize::from(ty.pointer_depth));
    let text = if stars.is_empty() {
        ty.name
    } else {
        format!("{} {stars}", ty.name)
    };
    let arg = leaf(
        ExprKind::Builtin(text),
        ty.span.start as usize,
        ty.span.end as usize,
    );
    let mut args = vec![arg];
    if let Some(f) = field {
        args.push(leaf(
            ExprKind::Builtin(f.name),
            f.span.start as usize,
            f.span.end as usize,
        ));
    }
    call(name, args, r)
}

pub fn tuple(first: Node, rest: Vec<Node>, l: usize, r: usize) -> Res<Node> {
    let mut items = vec![first];
    items.extend(rest);
    let d = max_depth(&items);
    node(ExprKind::Tuple(exprs(items)), span(l, r), d)
}

pub fn cast(ty: TypeName, e: Node, l: usize) -> Res<Node> {
    let s = span(l, e.expr.span.end as usize);
    let kind = ExprKind::Cast {
        ty,
        expr: Box::new(e.expr),
    };
    node(kind, s, e.depth)
}

/// `++e` (`prefix`, starting at `l`) or `e++` (ending at `r`).
pub fn incdec(e: Node, increment: bool, prefix: bool, l: usize, r: usize) -> Res<Node> {
    let s = if prefix {
        span(l, e.expr.span.end as usize)
    } else {
        span(e.expr.span.start as usize, r)
    };
    let kind = ExprKind::IncDec {
        target: Box::new(e.expr),
        increment,
        prefix,
    };
    node(kind, s, e.depth)
}

/// `@name` (spanning `l..nr`) with optional keys, the whole ending at `r`.
pub fn map_ref(name: String, l: usize, nr: usize, keys: Vec<Node>, r: usize) -> MapNode {
    let depth = max_depth(&keys);
    MapNode {
        map: MapRef {
            name,
            name_span: span(l, nr),
            keys: exprs(keys),
            span: span(l, r),
        },
        depth,
    }
}

pub fn map_expr(m: MapNode) -> Res<Node> {
    let s = m.map.span;
    node(ExprKind::Map(m.map), s, m.depth)
}

pub fn type_name(name: String, stars: usize, l: usize, r: usize) -> Res<TypeName> {
    let pointer_depth =
        u8::try_from(stars).map_err(|_| user(span(l, r), "too many '*' in a type"))?;
    Ok(TypeName {
        name,
        pointer_depth,
        array_len: None,
        array_more: Vec::new(),
        span: span(l, r),
    })
}

pub fn stmt(kind: StmtKind, l: usize, r: usize) -> Stmt {
    Stmt {
        kind,
        span: span(l, r),
    }
}

/// `#include <linux/sched.h>` keeps the path as the name; other `#` lines keep their text.
pub fn directive(line: String, l: usize, r: usize) -> StructDef {
    let rest = line.trim_start_matches('#').trim_start();
    let name = match rest.strip_prefix("include") {
        Some(path) => path
            .trim()
            .trim_start_matches(['<', '"'])
            .trim_end_matches(['>', '"'])
            .to_string(),
        None => line.clone(),
    };
    StructDef {
        name: Ident {
            name,
            span: span(l, r),
        },
        union: false,
        fields: Vec::new(),
        span: span(l, r),
    }
}

/// A struct or union definition from its declarations (the last may lack its `;`), after
/// the records defined inside it.
pub fn struct_def(
    union: bool,
    name: Ident,
    fields: Vec<(Vec<StructField>, Vec<StructDef>)>,
    last: Option<(Vec<StructField>, Vec<StructDef>)>,
    l: usize,
    r: usize,
) -> Res<Vec<StructDef>> {
    let mut defs = Vec::new();
    let mut all = Vec::new();
    for (f, nested) in fields.into_iter().chain(last) {
        defs.extend(nested);
        all.extend(f);
    }
    defs.push(StructDef {
        name,
        union,
        fields: all,
        span: span(l, r),
    });
    Ok(defs)
}

/// `struct { int x; } member;` inside a definition: the record (and those inside it) to
/// define first, as one piece naming its type.
pub fn nested_record(
    union: bool,
    name: Option<Ident>,
    fields: Vec<(Vec<StructField>, Vec<StructDef>)>,
    last: Option<(Vec<StructField>, Vec<StructDef>)>,
    l: usize,
    r: usize,
) -> Res<Piece> {
    let keyword = if union { "union" } else { "struct" };
    let name = name.unwrap_or_else(|| Ident {
        name: format!("(anonymous {keyword} at {l})"),
        span: span(l, l + keyword.len()),
    });
    let ty = format!("{keyword} {}", name.name);
    let defs = struct_def(union, name, fields, last, l, r)?;
    Ok(Piece::Nested(defs, ty, span(l, r)))
}

/// The fields of one declaration: `unsigned int a:4, b:8` declares two fields of one type;
/// `struct { int x; } y;` defines a record too, returned beside the fields.
pub fn struct_fields(
    pieces: Vec<Piece>,
    l: usize,
    r: usize,
) -> Res<(Vec<StructField>, Vec<StructDef>)> {
    let mut nested = Vec::new();
    let pieces: Vec<Piece> = pieces
        .into_iter()
        .map(|p| match p {
            Piece::Nested(defs, ty, s) => {
                nested.extend(defs);
                Piece::Word(ty, s)
            }
            other => other,
        })
        .collect();
    // `struct { ... };`: an anonymous member, whose members are found through it.
    if let [Piece::Word(ty, s)] = pieces.as_slice() {
        if !nested.is_empty() {
            let field = StructField {
                ty: type_name(ty.clone(), 0, s.start as usize, s.end as usize)?,
                name: Ident {
                    name: String::new(),
                    span: *s,
                },
                bits: None,
                span: span(l, r),
            };
            return Ok((vec![field], nested));
        }
    }
    let mut groups: Vec<Vec<Piece>> = vec![Vec::new()];
    for p in pieces {
        match p {
            Piece::Comma(_) => groups.push(Vec::new()),
            other => groups.last_mut().map_or((), |g| g.push(other)),
        }
    }
    let first = groups.remove(0);
    // The type's words: those before the first `*`, less the name when there is no `*`.
    let stars = first.iter().position(|p| matches!(p, Piece::Star(_)));
    let mut type_words: Vec<Piece> = first
        .iter()
        .take(stars.unwrap_or(first.len()))
        .filter(|p| matches!(p, Piece::Word(..)))
        .cloned()
        .collect();
    if stars.is_none() {
        type_words.pop();
    }
    let mut out = vec![struct_field(first, l, r)?];
    for g in groups {
        let mut pieces = type_words.clone();
        pieces.extend(g);
        out.push(struct_field(pieces, l, r)?);
    }
    Ok((out, nested))
}

/// A struct field from its words: type words, `*`s, the name, then `[N]`s or `: BITS`.
pub fn struct_field(pieces: Vec<Piece>, l: usize, r: usize) -> Res<StructField> {
    let bad = |m: &str| user(span(l, r), m);
    let mut words: Vec<(String, Span)> = Vec::new();
    let mut stars = 0usize;
    let mut ty_end = l;
    let mut name_after_stars = None;
    let mut array_len = None;
    let mut array_more = Vec::new();
    let mut bits = None;
    for piece in pieces {
        let done = array_len.is_some() || name_after_stars.is_some();
        match piece {
            Piece::Word(w, s) if array_len.is_none() && stars == 0 => words.push((w, s)),
            Piece::Word(w, s) if !done => name_after_stars = Some((w, s)),
            Piece::Star(s) if !done && !words.is_empty() => {
                stars += 1;
                ty_end = s.end as usize;
            }
            Piece::Array(n, _) if array_len.is_none() => array_len = Some(n),
            Piece::Array(n, _) => array_more.push(n),
            Piece::Bits(n, _) if bits.is_none() && n > 0 && n <= 64 => bits = Some(n as u8),
            _ => return Err(bad("invalid struct field")),
        }
    }
    let name = match name_after_stars {
        Some(n) => Some(n),
        None if stars == 0 => words.pop(),
        None => None,
    };
    let Some((name, name_span)) = name else {
        return Err(bad("missing a field name"));
    };
    if words.is_empty() {
        return Err(bad("missing a field type"));
    }
    if stars == 0 {
        ty_end = words.last().map_or(l, |(_, s)| s.end as usize);
    }
    let ty_name = words
        .into_iter()
        .map(|(w, _)| w)
        .collect::<Vec<_>>()
        .join(" ");
    let mut ty = type_name(ty_name, stars, l, ty_end)?;
    ty.array_len = array_len;
    ty.array_more = array_more;
    Ok(StructField {
        ty,
        name: Ident {
            name,
            span: name_span,
        },
        bits,
        span: span(l, r),
    })
}

pub fn unsupported(what: &str, l: usize, r: usize) -> Res<Vec<StructDef>> {
    Err(user(
        span(l, r),
        &format!("{what} definitions are not supported"),
    ))
}
