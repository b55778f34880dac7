//! The condition grammar: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
//! `N of x*`, `1 of them`, `all of them`. Precedence: `not` > `and` > `or`.
//!
//! The same parser reads the boolean correlation conditions of the onesec extension
//! (where `of` expressions are rejected by the caller).

/// A parsed boolean expression over atoms.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr<A> {
    /// A leaf.
    Atom(A),
    /// Negation.
    Not(Box<Expr<A>>),
    /// Conjunction (two or more).
    And(Vec<Expr<A>>),
    /// Disjunction (two or more).
    Or(Vec<Expr<A>>),
}

/// How many of a group must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quant {
    /// `all of`.
    All,
    /// `N of` (N ≥ 1).
    AtLeast(usize),
}

/// A leaf as written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawAtom {
    /// A search identifier (or rule name).
    Ident(String),
    /// `<quant> of them` (pattern None) or `<quant> of <pattern>`.
    Of(Quant, Option<String>),
}

impl<A> Expr<A> {
    /// Maps the atoms, failing on the first error.
    pub(crate) fn try_map<B, E>(self, f: &mut impl FnMut(A) -> Result<B, E>) -> Result<Expr<B>, E> {
        Ok(match self {
            Expr::Atom(a) => Expr::Atom(f(a)?),
            Expr::Not(e) => Expr::Not(Box::new(e.try_map(f)?)),
            Expr::And(v) => Expr::And(
                v.into_iter()
                    .map(|e| e.try_map(f))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(v) => Expr::Or(
                v.into_iter()
                    .map(|e| e.try_map(f))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// Evaluates with short-circuiting.
    pub(crate) fn eval(&self, f: &mut impl FnMut(&A) -> bool) -> bool {
        match self {
            Expr::Atom(a) => f(a),
            Expr::Not(e) => !e.eval(f),
            Expr::And(v) => v.iter().all(|e| e.eval(f)),
            Expr::Or(v) => v.iter().any(|e| e.eval(f)),
        }
    }

    /// True when some atom sits under a negation.
    pub(crate) fn has_not(&self) -> bool {
        match self {
            Expr::Atom(_) => false,
            Expr::Not(_) => true,
            Expr::And(v) | Expr::Or(v) => v.iter().any(Expr::has_not),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if !word.is_empty() {
            out.push(Token::Word(std::mem::take(word)));
        }
    };
    for c in text.chars() {
        match c {
            '(' | ')' => {
                flush(&mut word, &mut out);
                out.push(if c == '(' { Token::Open } else { Token::Close });
            }
            '|' => {
                return Err(
                    "aggregation expressions ('| count() ...', Sigma 1.x) are not supported; use a correlation rule"
                        .into(),
                );
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    Ok(out)
}

fn is_kw(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn peek2(&self) -> Option<&Token> {
        self.toks.get(self.pos + 1)
    }

    fn or(&mut self) -> Result<Expr<RawAtom>, String> {
        let mut items = vec![self.and()?];
        while is_kw(self.peek(), "or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr<RawAtom>, String> {
        let mut items = vec![self.unary()?];
        while is_kw(self.peek(), "and") {
            self.pos += 1;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self) -> Result<Expr<RawAtom>, String> {
        if is_kw(self.peek(), "not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr<RawAtom>, String> {
        match self.peek().cloned() {
            None => Err("unexpected end of condition".into()),
            Some(Token::Close) => Err("unexpected ')'".into()),
            Some(Token::Open) => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Token::Word(w)) => {
                if is_kw(self.peek2(), "of") {
                    let quant = if w.eq_ignore_ascii_case("all") {
                        Quant::All
                    } else if w.eq_ignore_ascii_case("any") {
                        Quant::AtLeast(1)
                    } else {
                        match w.parse::<usize>() {
                            Ok(n) if n >= 1 => Quant::AtLeast(n),
                            _ => return Err(format!("'{w} of': expected 'all of' or 'N of'")),
                        }
                    };
                    self.pos += 2;
                    let target = match self.peek().cloned() {
                        Some(Token::Word(t)) => t,
                        _ => return Err("'of' must be followed by 'them' or a pattern".into()),
                    };
                    self.pos += 1;
                    let pattern = if target.eq_ignore_ascii_case("them") {
                        None
                    } else {
                        Some(target)
                    };
                    return Ok(Expr::Atom(RawAtom::Of(quant, pattern)));
                }
                for kw in ["and", "or", "not", "of", "them"] {
                    if w.eq_ignore_ascii_case(kw) {
                        return Err(format!("unexpected '{w}'"));
                    }
                }
                self.pos += 1;
                Ok(Expr::Atom(RawAtom::Ident(w)))
            }
        }
    }
}

/// Parses a condition.
pub(crate) fn parse(text: &str) -> Result<Expr<RawAtom>, String> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?} after the end of the expression"));
    }
    Ok(e)
}

/// Matches a name against an `x of` pattern (`*` any run, `?` one character).
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    fn rec(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| rec(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && rec(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && rec(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    rec(&p, &n)
}

/// A compiled detection condition over search identifier indexes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cond {
    /// One search.
    Search(usize),
    /// At least N of the searches.
    AtLeast(usize, Vec<usize>),
    /// All of the searches.
    All(Vec<usize>),
}

/// Resolves the identifiers of a parsed condition against the detection's search names.
pub(crate) fn resolve(expr: Expr<RawAtom>, names: &[String]) -> Result<Expr<Cond>, String> {
    expr.try_map(&mut |a| match a {
        RawAtom::Ident(id) => names
            .iter()
            .position(|n| *n == id)
            .map(Cond::Search)
            .ok_or_else(|| format!("unknown search identifier '{id}'")),
        RawAtom::Of(q, pat) => {
            let idx: Vec<usize> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| match &pat {
                    None => !n.starts_with('_'),
                    Some(p) => glob(p, n),
                })
                .map(|(i, _)| i)
                .collect();
            if idx.is_empty() {
                return Err(format!(
                    "'of {}' matches no search identifier",
                    pat.as_deref().unwrap_or("them")
                ));
            }
            Ok(match q {
                Quant::All => Cond::All(idx),
                Quant::AtLeast(n) => Cond::AtLeast(n, idx),
            })
        }
    })
}

/// Evaluates a compiled condition; `search(i)` evaluates search `i`.
pub(crate) fn eval(expr: &Expr<Cond>, search: &mut impl FnMut(usize) -> bool) -> bool {
    expr.eval(&mut |c| match c {
        Cond::Search(i) => search(*i),
        Cond::All(v) => v.iter().all(|i| search(*i)),
        Cond::AtLeast(n, v) => {
            let mut hits = 0;
            for i in v {
                if search(*i) {
                    hits += 1;
                    if hits >= *n {
                        return true;
                    }
                }
            }
            false
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Evaluates `cond` with the searches named in `truthy` true.
    fn ev(cond: &str, all: &[&str], truthy: &[&str]) -> bool {
        let names = names(all);
        let e = match parse(cond).and_then(|e| resolve(e, &names)) {
            Ok(e) => e,
            Err(m) => panic!("{cond}: {m}"),
        };
        eval(&e, &mut |i| truthy.contains(&names[i].as_str()))
    }

    #[test]
    fn precedence() {
        let all = ["a", "b", "c"];
        // not > and > or
        assert!(ev("a or b and c", &all, &["a"]));
        assert!(!ev("(a or b) and c", &all, &["a"]));
        assert!(ev("not a and b", &all, &["b"]));
        assert!(!ev("not (a and b)", &all, &["a", "b"]));
        assert!(ev("not a or b", &all, &["a", "b"]));
        assert!(ev("a and not b or c", &all, &["c", "b"]));
        assert!(!ev("a and not (b or c)", &all, &["a", "c"]));
        assert!(ev("((a) and ((b or (c))))", &all, &["a", "c"]));
        assert!(ev("not not a", &all, &["a"]));
        assert!(ev("A AND B", &["A", "B"], &["A", "B"]));
    }

    #[test]
    fn quantifiers() {
        let all = [
            "selection_a",
            "selection_b",
            "filter_main_x",
            "filter_main_y",
            "_hidden",
        ];
        assert!(ev("1 of selection_*", &all, &["selection_b"]));
        assert!(!ev("all of selection_*", &all, &["selection_b"]));
        assert!(ev(
            "all of selection_*",
            &all,
            &["selection_a", "selection_b"]
        ));
        assert!(ev(
            "all of selection_* and not 1 of filter_main_*",
            &all,
            &["selection_a", "selection_b"]
        ));
        assert!(!ev(
            "all of selection_* and not 1 of filter_main_*",
            &all,
            &["selection_a", "selection_b", "filter_main_y"]
        ));
        // `them` ignores identifiers starting with '_'.
        assert!(ev(
            "all of them",
            &all,
            &[
                "selection_a",
                "selection_b",
                "filter_main_x",
                "filter_main_y"
            ]
        ));
        assert!(!ev("1 of them", &all, &["_hidden"]));
        assert!(ev(
            "2 of selection_* or filter_main_x",
            &all,
            &["selection_a", "selection_b"]
        ));
        assert!(!ev("2 of selection_*", &all, &["selection_a"]));
        assert!(ev("1 of selection_?", &all, &["selection_a"]));
        assert!(ev("any of filter*", &all, &["filter_main_y"]));
    }

    #[test]
    fn errors() {
        let n = names(&["sel", "filter"]);
        for bad in [
            "",
            "sel and",
            "(sel",
            "sel)",
            "sel filter",
            "nope",
            "1 of x*",
            "sel | count() > 5",
            "and sel",
            "0 of them",
            "of them",
        ] {
            assert!(parse(bad).and_then(|e| resolve(e, &n)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn globbing() {
        assert!(glob("sel*", "selection"));
        assert!(glob("*", "x"));
        assert!(!glob("sel*", "filter"));
        assert!(glob("a*b*c", "aXXbYYc"));
    }
}
