//! Shrinking a failing script: drop statements, splice branches and printf arguments, replace subexpressions by operands or literals.

use super::script::{Expr, Script, Stmt};

/// Every one-step simplification of `s`, roughly largest first. Some may be ill-typed; the
/// caller filters them with the reference.
pub fn candidates(s: &Script) -> Vec<Script> {
    let mut out = Vec::new();
    // The final top-level exit() stays: without it the script would never end.
    let keep = s.body.len().saturating_sub(1);
    for body in block_candidates(&s.body[..keep]) {
        let mut b = body;
        b.extend_from_slice(&s.body[keep..]);
        out.push(Script {
            body: b,
            ..s.clone()
        });
    }
    let n = count_exprs(&s.body);
    for i in 0..n {
        let Some(e) = nth_expr(&s.body, i) else {
            continue;
        };
        for r in replacements(&e) {
            let mut c = s.clone();
            replace_nth(&mut c.body, i, r);
            out.push(c);
        }
    }
    out
}

fn block_candidates(stmts: &[Stmt]) -> Vec<Vec<Stmt>> {
    let mut out = Vec::new();
    // Halves first, then single statements.
    if stmts.len() >= 4 {
        let h = stmts.len() / 2;
        out.push(stmts[h..].to_vec());
        out.push(stmts[..h].to_vec());
    }
    for j in 0..stmts.len() {
        let mut b = stmts.to_vec();
        b.remove(j);
        out.push(b);
    }
    for j in 0..stmts.len() {
        let with = |inner: Vec<Stmt>| {
            let mut b = stmts[..j].to_vec();
            b.extend(inner);
            b.extend_from_slice(&stmts[j + 1..]);
            b
        };
        match &stmts[j] {
            Stmt::If(c, then, els) => {
                out.push(with(then.clone()));
                out.push(with(els.clone()));
                if !els.is_empty() {
                    out.push(with(vec![Stmt::If(c.clone(), then.clone(), Vec::new())]));
                }
                for t in block_candidates(then) {
                    out.push(with(vec![Stmt::If(c.clone(), t, els.clone())]));
                }
                for f in block_candidates(els) {
                    out.push(with(vec![Stmt::If(c.clone(), then.clone(), f)]));
                }
            }
            Stmt::Printf(fmt, args) if args.len() > 1 => {
                let words: Vec<&str> = fmt.trim_end_matches('\n').split(' ').collect();
                if words.len() == args.len() + 1 {
                    for i in 0..args.len() {
                        let mut w = words.clone();
                        w.remove(i + 1);
                        let mut a = args.clone();
                        a.remove(i);
                        out.push(with(vec![Stmt::Printf(format!("{}\n", w.join(" ")), a)]));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Simpler expressions to try in place of `e`.
fn replacements(e: &Expr) -> Vec<Expr> {
    let mut out: Vec<Expr> = match e {
        Expr::Int(_) | Expr::Str(_) | Expr::Var(_) => Vec::new(),
        Expr::Map(_, keys) => keys.clone(),
        Expr::Cast(_, x) | Expr::Unary(_, x) | Expr::Field(x, _) | Expr::Member(x, _) => {
            vec![(**x).clone()]
        }
        Expr::Incr(target, ..) => vec![(**target).clone()],
        Expr::Deref(k, off, path) => {
            let mut v = Vec::new();
            if *off > 0 {
                v.push(Expr::Deref(*k, 0, path.clone()));
            }
            if !path.is_empty() {
                v.push(Expr::Deref(*k, *off, path[..path.len() - 1].to_vec()));
            }
            v
        }
        Expr::StrRead(off, n) => {
            let mut v = vec![Expr::Str(Vec::new())];
            if n.is_some() {
                v.push(Expr::StrRead(*off, None));
            }
            v
        }
        Expr::Binary(_, l, r) => vec![(**l).clone(), (**r).clone()],
        Expr::Ternary(c, t, f) => vec![(**t).clone(), (**f).clone(), (**c).clone()],
        Expr::Tuple(items) => items.clone(),
    };
    match e {
        Expr::Int(v) => {
            for small in [0, 1, v / 2] {
                if small < *v {
                    out.push(Expr::Int(small));
                }
            }
        }
        Expr::Str(s) if !s.is_empty() => out.push(Expr::Str(Vec::new())),
        Expr::Str(_) => {}
        _ => {
            out.push(Expr::Int(0));
            out.push(Expr::Int(1));
            out.push(Expr::Str(Vec::new()));
        }
    }
    out
}

/// Calls `f` on every expression in pre-order; stops when it returns true.
fn visit(stmts: &[Stmt], f: &mut dyn FnMut(&Expr) -> bool) -> bool {
    fn expr(e: &Expr, f: &mut dyn FnMut(&Expr) -> bool) -> bool {
        if f(e) {
            return true;
        }
        match e {
            Expr::Int(_) | Expr::Str(_) | Expr::Var(_) | Expr::Deref(..) | Expr::StrRead(..) => {
                false
            }
            Expr::Map(_, keys) => keys.iter().any(|k| expr(k, f)),
            Expr::Cast(_, x)
            | Expr::Unary(_, x)
            | Expr::Field(x, _)
            | Expr::Member(x, _)
            | Expr::Incr(x, ..) => expr(x, f),
            Expr::Binary(_, l, r) => expr(l, f) || expr(r, f),
            Expr::Ternary(c, t, e2) => expr(c, f) || expr(t, f) || expr(e2, f),
            Expr::Tuple(items) => items.iter().any(|x| expr(x, f)),
        }
    }
    for s in stmts {
        let stop = match s {
            Stmt::Assign(_, e) => expr(e, f),
            Stmt::Store(_, keys, e) => keys.iter().any(|k| expr(k, f)) || expr(e, f),
            Stmt::VarOp(_, _, e) => e.as_ref().is_some_and(|e| expr(e, f)),
            Stmt::MapOp(_, keys, _, e) => {
                keys.iter().any(|k| expr(k, f)) || e.as_ref().is_some_and(|e| expr(e, f))
            }
            Stmt::If(c, t, e) => expr(c, f) || visit(t, f) || visit(e, f),
            Stmt::Printf(_, args) => args.iter().any(|a| expr(a, f)),
            Stmt::Print(e) => expr(e, f),
            Stmt::Exit => false,
        };
        if stop {
            return true;
        }
    }
    false
}

/// `visit` with mutable access, in the same order.
fn visit_mut(stmts: &mut [Stmt], f: &mut dyn FnMut(&mut Expr) -> bool) -> bool {
    fn expr(e: &mut Expr, f: &mut dyn FnMut(&mut Expr) -> bool) -> bool {
        if f(e) {
            return true;
        }
        match e {
            Expr::Int(_) | Expr::Str(_) | Expr::Var(_) | Expr::Deref(..) | Expr::StrRead(..) => {
                false
            }
            Expr::Map(_, keys) => keys.iter_mut().any(|k| expr(k, f)),
            Expr::Cast(_, x)
            | Expr::Unary(_, x)
            | Expr::Field(x, _)
            | Expr::Member(x, _)
            | Expr::Incr(x, ..) => expr(x, f),
            Expr::Binary(_, l, r) => expr(l, f) || expr(r, f),
            Expr::Ternary(c, t, e2) => expr(c, f) || expr(t, f) || expr(e2, f),
            Expr::Tuple(items) => items.iter_mut().any(|x| expr(x, f)),
        }
    }
    for s in stmts {
        let stop = match s {
            Stmt::Assign(_, e) => expr(e, f),
            Stmt::Store(_, keys, e) => keys.iter_mut().any(|k| expr(k, f)) || expr(e, f),
            Stmt::VarOp(_, _, e) => e.as_mut().is_some_and(|e| expr(e, f)),
            Stmt::MapOp(_, keys, _, e) => {
                keys.iter_mut().any(|k| expr(k, f)) || e.as_mut().is_some_and(|e| expr(e, f))
            }
            Stmt::If(c, t, e) => expr(c, f) || visit_mut(t, f) || visit_mut(e, f),
            Stmt::Printf(_, args) => args.iter_mut().any(|a| expr(a, f)),
            Stmt::Print(e) => expr(e, f),
            Stmt::Exit => false,
        };
        if stop {
            return true;
        }
    }
    false
}

fn count_exprs(stmts: &[Stmt]) -> usize {
    let mut n = 0;
    visit(stmts, &mut |_| {
        n += 1;
        false
    });
    n
}

fn nth_expr(stmts: &[Stmt], i: usize) -> Option<Expr> {
    let mut n = 0;
    let mut found = None;
    visit(stmts, &mut |e| {
        if n == i {
            found = Some(e.clone());
            return true;
        }
        n += 1;
        false
    });
    found
}

fn replace_nth(stmts: &mut [Stmt], i: usize, with: Expr) {
    let mut n = 0;
    let mut with = Some(with);
    visit_mut(stmts, &mut |e| {
        if n == i {
            if let Some(w) = with.take() {
                *e = w;
            }
            return true;
        }
        n += 1;
        false
    });
}

/// Greedily applies the first simplification that keeps `fails` true, until none does or
/// `budget` runs of `fails` are spent.
pub fn shrink(
    start: Script,
    valid: &dyn Fn(&Script) -> bool,
    fails: &dyn Fn(&Script) -> bool,
    mut budget: usize,
) -> Script {
    let mut cur = start;
    'outer: loop {
        for c in candidates(&cur) {
            if !valid(&c) {
                continue;
            }
            if budget == 0 {
                break 'outer;
            }
            budget -= 1;
            if fails(&c) {
                cur = c;
                continue 'outer;
            }
        }
        break;
    }
    cur
}
