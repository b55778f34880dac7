//! Conditions of `if-condition` and `while-condition` steps.
//!
//! CACAO says a condition is "a boolean expression as defined in the STIX Patterning Grammar".
//! Full STIX patterns match observed data (object paths, `MATCHES`, `FOLLOWEDBY`, qualifiers);
//! a playbook only has its variables. We take the part of the grammar that makes sense on
//! variables — comparisons `= != < > <= >=` between variables (`__name__:value`) and literals
//! (`'text'`, numbers, `true`/`false`), joined with `AND`, `OR`, `NOT` and grouped with `( )` or
//! `[ ]` — and refuse the rest at load time with the offending token, rather than guessing.

use std::fmt;

/// A parsed condition, ready to be evaluated against variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    expr: Expr,
}

/// Why a condition text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition refused at character {position}: {message}")]
pub struct ConditionError {
    pub position: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Op, Operand),
    /// A lone operand, true when its value is `true`.
    Truthy(Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Var(String),
    Literal(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
        };
        f.write_str(s)
    }
}

/// STIX keywords we recognise but do not implement: named so the error says so plainly.
const UNSUPPORTED: &[&str] = &[
    "LIKE",
    "MATCHES",
    "IN",
    "ISSUBSET",
    "ISSUPERSET",
    "EXISTS",
    "FOLLOWEDBY",
    "WITHIN",
    "START",
    "STOP",
    "REPEATS",
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Var(String),
    Literal(String),
    Word(String),
    Op(Op),
    Open(char),
    Close(char),
}

impl Condition {
    /// Parses a condition; anything outside the supported grammar is an error.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, pos: 0 };
        let expr = parser.or()?;
        if let Some((at, token)) = parser.peek() {
            return Err(err(at, format!("unexpected {}", describe(token))));
        }
        Ok(Condition { expr })
    }

    /// The variable names (`__name__`) the condition reads.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_vars(&self.expr, &mut out);
        out
    }

    /// Evaluates with `lookup(name)`: `None` for an undeclared variable, `Some(None)` for a
    /// declared variable without a value. Either is an error: a decision on an unknown value
    /// would silently pick a branch.
    pub fn evaluate(
        &self,
        lookup: &dyn Fn(&str) -> Option<Option<String>>,
    ) -> Result<bool, String> {
        eval(&self.expr, lookup)
    }
}

fn collect_vars(expr: &Expr, out: &mut Vec<String>) {
    let mut push = |o: &Operand| {
        if let Operand::Var(name) = o {
            out.push(name.clone());
        }
    };
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => {
            collect_vars(a, out);
            collect_vars(b, out);
        }
        Expr::Not(a) => collect_vars(a, out),
        Expr::Compare(a, _, b) => {
            push(a);
            push(b);
        }
        Expr::Truthy(a) => push(a),
    }
}

fn eval(expr: &Expr, lookup: &dyn Fn(&str) -> Option<Option<String>>) -> Result<bool, String> {
    match expr {
        Expr::Or(a, b) => Ok(eval(a, lookup)? || eval(b, lookup)?),
        Expr::And(a, b) => Ok(eval(a, lookup)? && eval(b, lookup)?),
        Expr::Not(a) => Ok(!eval(a, lookup)?),
        Expr::Compare(a, op, b) => {
            let (a, b) = (resolve(a, lookup)?, resolve(b, lookup)?);
            Ok(compare(&a, *op, &b))
        }
        Expr::Truthy(a) => match resolve(a, lookup)?.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(format!("`{other}` is not a boolean (true or false)")),
        },
    }
}

fn resolve(
    operand: &Operand,
    lookup: &dyn Fn(&str) -> Option<Option<String>>,
) -> Result<String, String> {
    match operand {
        Operand::Literal(s) => Ok(s.clone()),
        Operand::Var(name) => match lookup(name) {
            None => Err(format!("variable {name} is not declared")),
            Some(None) => Err(format!("variable {name} has no value")),
            Some(Some(v)) => Ok(v),
        },
    }
}

/// Numbers compare as numbers when both sides are numbers; everything else as text.
fn compare(a: &str, op: Op, b: &str) -> bool {
    let ordering = match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y),
        _ => Some(a.cmp(b)),
    };
    let Some(ord) = ordering else {
        return op == Op::Ne; // NaN equals nothing
    };
    match op {
        Op::Eq => ord.is_eq(),
        Op::Ne => ord.is_ne(),
        Op::Lt => ord.is_lt(),
        Op::Gt => ord.is_gt(),
        Op::Le => ord.is_le(),
        Op::Ge => ord.is_ge(),
    }
}

fn err(position: usize, message: impl Into<String>) -> ConditionError {
    ConditionError {
        position,
        message: message.into(),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Var(v) => format!("variable {v}"),
        Token::Literal(l) => format!("literal '{l}'"),
        Token::Word(w) => format!("`{w}`"),
        Token::Op(op) => format!("operator `{op}`"),
        Token::Open(c) | Token::Close(c) => format!("`{c}`"),
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ConditionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let token = match c {
            '(' | '[' => {
                i += 1;
                Token::Open(c)
            }
            ')' | ']' => {
                i += 1;
                Token::Close(c)
            }
            '\'' => {
                let (lit, next) = string_literal(&chars, i)?;
                i = next;
                Token::Literal(lit)
            }
            '=' | '!' | '<' | '>' => {
                let (op, next) = operator(&chars, i)?;
                i = next;
                Token::Op(op)
            }
            _ => {
                let (word, next) = bare_word(&chars, i);
                i = next;
                word_token(&word, start)?
            }
        };
        tokens.push((start, token));
    }
    Ok(tokens)
}

fn string_literal(chars: &[char], open: usize) -> Result<(String, usize), ConditionError> {
    let mut out = String::new();
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '\'' => return Ok((out, i + 1)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(err(open, "string literal is not closed (missing ')"))
}

fn operator(chars: &[char], i: usize) -> Result<(Op, usize), ConditionError> {
    let next = chars.get(i + 1).copied();
    match (chars[i], next) {
        ('=', Some('=')) => Err(err(i, "`==` is not STIX: use `=`")),
        ('=', _) => Ok((Op::Eq, i + 1)),
        ('!', Some('=')) => Ok((Op::Ne, i + 2)),
        ('<', Some('=')) => Ok((Op::Le, i + 2)),
        ('>', Some('=')) => Ok((Op::Ge, i + 2)),
        ('<', _) => Ok((Op::Lt, i + 1)),
        ('>', _) => Ok((Op::Gt, i + 1)),
        _ => Err(err(i, "`!` must be followed by `=`; use NOT for negation")),
    }
}

fn bare_word(chars: &[char], start: usize) -> (String, usize) {
    let mut i = start;
    while i < chars.len() && !chars[i].is_whitespace() && !"()[]'=!<>".contains(chars[i]) {
        i += 1;
    }
    (chars[start..i].iter().collect(), i)
}

fn word_token(word: &str, at: usize) -> Result<Token, ConditionError> {
    if let Some(name) = variable_name(word) {
        return Ok(Token::Var(name));
    }
    let upper = word.to_ascii_uppercase();
    if matches!(upper.as_str(), "AND" | "OR" | "NOT") {
        return Ok(Token::Word(upper));
    }
    if matches!(word, "true" | "false") || word.parse::<f64>().is_ok() {
        return Ok(Token::Literal(word.to_string()));
    }
    if UNSUPPORTED.contains(&upper.as_str()) {
        return Err(err(at, format!("STIX operator `{word}` is not supported")));
    }
    Err(err(
        at,
        format!(
            "`{word}` is not supported: operands are variables (__name__:value), quoted strings, numbers or true/false"
        ),
    ))
}

/// `__name__:value` or `__name__` → `__name__`.
fn variable_name(word: &str) -> Option<String> {
    let name = word.strip_suffix(":value").unwrap_or(word);
    crate::vars::is_variable_name(name).then(|| name.to_string())
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<(usize, &Token)> {
        self.tokens.get(self.pos).map(|(at, t)| (*at, t))
    }

    fn end_position(&self) -> usize {
        self.tokens.last().map(|(at, _)| at + 1).unwrap_or(0)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some((_, Token::Word(w))) if w == word) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn or(&mut self) -> Result<Expr, ConditionError> {
        let mut left = self.and()?;
        while self.eat_word("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ConditionError> {
        let mut left = self.unary()?;
        while self.eat_word("AND") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ConditionError> {
        if self.eat_word("NOT") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ConditionError> {
        let end = self.end_position();
        let Some((at, token)) = self.peek() else {
            return Err(err(end, "expression expected, found the end"));
        };
        if let Token::Open(open) = token.clone() {
            self.pos += 1;
            let inner = self.or()?;
            let close = if open == '(' { ')' } else { ']' };
            return match self.peek() {
                Some((_, Token::Close(c))) if *c == close => {
                    self.pos += 1;
                    Ok(inner)
                }
                _ => Err(err(at, format!("`{open}` is not closed by `{close}`"))),
            };
        }
        let left = self.operand()?;
        if let Some((_, Token::Op(op))) = self.peek() {
            let op = *op;
            self.pos += 1;
            let right = self.operand()?;
            return Ok(Expr::Compare(left, op, right));
        }
        Ok(Expr::Truthy(left))
    }

    fn operand(&mut self) -> Result<Operand, ConditionError> {
        let end = self.end_position();
        let Some((at, token)) = self.peek() else {
            return Err(err(end, "operand expected, found the end"));
        };
        let operand = match token {
            Token::Var(v) => Operand::Var(v.clone()),
            Token::Literal(l) => Operand::Literal(l.clone()),
            other => {
                return Err(err(
                    at,
                    format!("operand expected, found {}", describe(other)),
                ));
            }
        };
        self.pos += 1;
        Ok(operand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, vars: &[(&str, Option<&str>)]) -> Result<bool, String> {
        let cond = Condition::parse(text).map_err(|e| e.to_string())?;
        let lookup = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.map(str::to_string))
        };
        cond.evaluate(&lookup)
    }

    #[test]
    fn comparisons_of_variables_and_literals() {
        let vars = [("__n__", Some("3")), ("__s__", Some("dpo"))];
        assert_eq!(run("__n__:value = 3", &vars), Ok(true));
        assert_eq!(
            run("__n__:value < 10", &vars),
            Ok(true),
            "numeric, not text"
        );
        assert_eq!(run("__n__:value >= 4", &vars), Ok(false));
        assert_eq!(run("__s__:value != 'dpo'", &vars), Ok(false));
        assert_eq!(run("__s__:value = 'dpo'", &vars), Ok(true));
    }

    #[test]
    fn boolean_operators_and_grouping() {
        let vars = [
            ("__a__", Some("1")),
            ("__b__", Some("x")),
            ("__t__", Some("true")),
        ];
        assert_eq!(
            run("__a__:value = 1 AND __b__:value = 'y'", &vars),
            Ok(false)
        );
        assert_eq!(run("__a__:value = 1 OR __b__:value = 'y'", &vars), Ok(true));
        assert_eq!(
            run("NOT (__a__:value = 1 OR __b__:value = 'y')", &vars),
            Ok(false)
        );
        assert_eq!(
            run("[__b__:value = 'x'] AND NOT __a__:value > 5", &vars),
            Ok(true)
        );
        assert_eq!(run("__t__:value", &vars), Ok(true));
        // AND binds tighter than OR
        assert_eq!(
            run(
                "__a__:value = 2 AND __a__:value = 1 OR __b__:value = 'x'",
                &vars
            ),
            Ok(true)
        );
    }

    #[test]
    fn unknown_values_are_errors_not_false() {
        let vars = [("__a__", None)];
        assert!(
            run("__a__:value = 1", &vars)
                .unwrap_err()
                .contains("has no value")
        );
        assert!(
            run("__zz__:value = 1", &vars)
                .unwrap_err()
                .contains("not declared")
        );
    }

    #[test]
    fn unsupported_forms_are_refused_with_the_token() {
        for (text, needle) in [
            ("__a__:value LIKE 'x%'", "LIKE"),
            ("[ipv4-addr:value = '1.2.3.4']", "ipv4-addr:value"),
            ("__a__:value == 1", "=="),
            ("(__a__:value = 1", "not closed"),
            ("__a__:value = 'x", "not closed"),
            ("__a__:value =", "operand expected"),
            ("__a__:value = 1 __b__:value", "unexpected"),
        ] {
            let e = Condition::parse(text).expect_err(text);
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn variables_are_listed() {
        let c = Condition::parse("__a__:value = __b__ OR NOT __c__:value").expect("parse");
        assert_eq!(c.variables(), vec!["__a__", "__b__", "__c__"]);
    }
}
