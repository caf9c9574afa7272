//! The syntax tree of a statement and the recursive-descent parser that builds it.
//!
//! Grammar (AWS IoT SQL reference, "SELECT clause", "FROM clause", "WHERE clause", "Case
//! statements", "JSON extensions"):
//!
//! ```text
//! statement := SELECT [VALUE] item {, item} [FROM 'filter'] [WHERE expr]
//! item      := * | expr [AS name{.name}]
//! expr      := or ; or := and {OR and} ; and := not {AND not} ; not := NOT not | cmp
//! cmp       := add [(= | <> | != | < | <= | > | >=) add | IN add]
//! add       := mul {(+ | -) mul} ; mul := unary {(* | / | %) unary} ; unary := - unary | post
//! post      := primary {.name | [expr]}
//! primary   := literal | name | name(args) | cast(expr AS type) | (expr) | CASE ... END
//!            | {'k': expr, ...} | [expr, ...]
//! ```

use crate::SqlVersion;
use crate::error::ParseError;
use crate::lexer::{Tok, lex};

/// Deepest nesting of expressions accepted, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    In,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A constant.
    Lit(crate::value::Value),
    /// `*`: the whole payload.
    Star,
    /// A top-level payload key.
    Name(String),
    /// `e.name`.
    Member(Box<Expr>, String),
    /// `e[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// A function call (name lower-cased).
    Call(String, Vec<Expr>),
    /// `cast(e AS type)` (type lower-cased).
    Cast(Box<Expr>, String),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `CASE [operand] WHEN w THEN t ... [ELSE e] END`.
    Case {
        operand: Option<Box<Expr>>,
        arms: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// `{'k': v, ...}` (2016-03-23).
    Object(Vec<(String, Expr)>),
    /// `[a, b]` (2016-03-23).
    Array(Vec<Expr>),
}

/// One item of the SELECT list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// `*`.
    All,
    /// `expr [AS a.b]`: the output path.
    Expr(Expr, Vec<String>),
}

/// A parsed statement's parts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ast {
    pub(crate) value: bool,
    pub(crate) items: Vec<Item>,
    pub(crate) from: Option<String>,
    pub(crate) where_: Option<Expr>,
}

/// Functions that need SQL version 2016-03-23 (marked [v2] in the reference's list).
const V2_ONLY: &[&str] = &[
    "decode",
    "encode",
    "get_dynamodb",
    "get_thing_shadow",
    "indexof",
    "isundefined",
    "length",
    "numbytes",
    "parse_time",
    "time_to_epoch",
    "transform",
];

pub(crate) fn parse(sql: &str, version: SqlVersion) -> Result<Ast, ParseError> {
    let toks = lex(sql)?;
    let mut p = Parser { toks, pos: 0, version, depth: 0, anonymous: 0 };
    p.statement()
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    version: SqlVersion,
    depth: usize,
    anonymous: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Int(i) => format!("number {i}"),
        Tok::Dec(d) => format!("number {d}"),
        Tok::Eof => "end of statement".into(),
        other => format!("{other:?}"),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].0
    }

    fn here(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        // May step past the end: `peek` clamps, and `pos -= 1` always undoes a bump.
        self.pos += 1;
        tok
    }

    fn error<T>(&self, expected: &str) -> Result<T, ParseError> {
        Err(ParseError::new(
            format!("expected {expected}, found {}", describe(self.peek())),
            self.here(),
        ))
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let found = self.is_kw(kw);
        if found {
            self.bump();
        }
        found
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ParseError> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            self.error(what)
        }
    }

    fn name(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.bump();
                Ok(s)
            }
            _ => self.error("a name"),
        }
    }

    fn statement(&mut self) -> Result<Ast, ParseError> {
        if !self.eat_kw("select") {
            return self.error("SELECT");
        }
        // `VALUE` is a keyword only when an expression follows it (`SELECT value FROM` reads the
        // key "value").
        let value = self.is_kw("value")
            && !matches!(self.peek_at(1), Tok::Comma | Tok::Eof | Tok::Dot | Tok::LBracket)
            && !matches!(self.peek_at(1), Tok::Ident(s) if s.eq_ignore_ascii_case("from") || s.eq_ignore_ascii_case("as"));
        if value {
            self.bump();
        }
        let mut items = vec![self.item()?];
        while *self.peek() == Tok::Comma {
            self.bump();
            items.push(self.item()?);
        }
        if value && (items.len() != 1 || !matches!(items[0], Item::Expr(_, _))) {
            return Err(ParseError::new("SELECT VALUE takes exactly one expression", 0));
        }
        let mut from = None;
        if self.eat_kw("from") {
            match self.bump() {
                Tok::Str(s) => from = Some(s),
                _ => {
                    self.pos -= 1;
                    return self.error("a quoted topic filter after FROM");
                }
            }
        }
        let where_ = if self.eat_kw("where") { Some(self.expr()?) } else { None };
        if *self.peek() != Tok::Eof {
            return self.error("end of statement");
        }
        Ok(Ast { value, items, from, where_ })
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        if *self.peek() == Tok::Star {
            self.bump();
            return Ok(Item::All);
        }
        self.anonymous += 1;
        let expr = self.expr()?;
        let path = if self.eat_kw("as") {
            let mut path = vec![self.alias_part()?];
            while *self.peek() == Tok::Dot {
                self.bump();
                path.push(self.alias_part()?);
            }
            path
        } else {
            // The output key is the last segment of a path; other expressions are named by
            // their position (unverified: AWS does not document unaliased expression names).
            match &expr {
                Expr::Name(n) | Expr::Member(_, n) => vec![n.clone()],
                _ => vec![format!("_{}", self.anonymous)],
            }
        };
        Ok(Item::Expr(expr, path))
    }

    fn alias_part(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) if !["from", "where", "as"].iter().any(|k| s.eq_ignore_ascii_case(k)) => {
                self.bump();
                Ok(s)
            }
            Tok::Str(s) => {
                self.bump();
                Ok(s)
            }
            _ => self.error("an alias after AS"),
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new("expression nested too deeply", self.here()));
        }
        let e = self.or();
        self.depth -= 1;
        e
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.eat_kw("or") {
            let right = self.and()?;
            left = Expr::Bin(BinOp::Or, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while self.eat_kw("and") {
            let right = self.not()?;
            left = Expr::Bin(BinOp::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat_kw("not") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ParseError::new("expression nested too deeply", self.here()));
            }
            let e = self.not();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let left = self.add()?;
        let op = match self.peek() {
            Tok::Eq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            Tok::Ident(s) if s.eq_ignore_ascii_case("in") => BinOp::In,
            _ => return Ok(left),
        };
        self.bump();
        let right = if op == BinOp::In && *self.peek() == Tok::LParen {
            // `x IN (a, b, c)` is read as `x IN [a, b, c]`.
            self.bump();
            let items = self.list(Tok::RParen)?;
            Expr::Array(items)
        } else {
            self.add()?
        };
        Ok(Expr::Bin(op, Box::new(left), Box::new(right)))
    }

    fn add(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.mul()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.mul()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn mul(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Mod,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if *self.peek() == Tok::Minus {
            self.bump();
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ParseError::new("expression nested too deeply", self.here()));
            }
            let e = self.unary();
            self.depth -= 1;
            return Ok(match e? {
                Expr::Lit(crate::value::Value::Int(i)) => {
                    Expr::Lit(crate::value::Value::Int(i.wrapping_neg()))
                }
                Expr::Lit(crate::value::Value::Decimal(d)) => {
                    Expr::Lit(crate::value::Value::Decimal(-d))
                }
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    let name = self.name()?;
                    e = Expr::Member(Box::new(e), name);
                }
                Tok::LBracket => {
                    self.bump();
                    let index = self.expr()?;
                    self.expect(Tok::RBracket, "']'")?;
                    e = Expr::Index(Box::new(e), Box::new(index));
                }
                _ => return Ok(e),
            }
        }
    }

    fn list(&mut self, close: Tok) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        if *self.peek() == close {
            self.bump();
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                t if *t == close => {
                    self.bump();
                    return Ok(items);
                }
                _ => return self.error("',' or a closing bracket"),
            }
        }
    }

    fn v2(&self, what: &str, at: usize) -> Result<(), ParseError> {
        if self.version == SqlVersion::V2015_10_08 {
            Err(ParseError::new(format!("{what} needs SQL version 2016-03-23"), at))
        } else {
            Ok(())
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        use crate::value::Value;
        let at = self.here();
        match self.bump() {
            Tok::Int(i) => Ok(Expr::Lit(Value::Int(i))),
            Tok::Dec(d) => Ok(Expr::Lit(Value::decimal(d, self.version))),
            Tok::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Tok::Star => Ok(Expr::Star),
            Tok::LParen => {
                let e = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::LBracket => {
                self.v2("an array literal", at)?;
                Ok(Expr::Array(self.list(Tok::RBracket)?))
            }
            Tok::LBrace => {
                self.v2("an object literal", at)?;
                let mut members = Vec::new();
                if *self.peek() == Tok::RBrace {
                    self.bump();
                    return Ok(Expr::Object(members));
                }
                loop {
                    let key = match self.bump() {
                        Tok::Str(s) | Tok::Ident(s) => s,
                        _ => {
                            self.pos -= 1;
                            return self.error("an object key");
                        }
                    };
                    self.expect(Tok::Colon, "':'")?;
                    members.push((key, self.expr()?));
                    match self.bump() {
                        Tok::Comma => {}
                        Tok::RBrace => return Ok(Expr::Object(members)),
                        _ => {
                            self.pos -= 1;
                            return self.error("',' or '}'");
                        }
                    }
                }
            }
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                match lower.as_str() {
                    "true" => return Ok(Expr::Lit(Value::Bool(true))),
                    "false" => return Ok(Expr::Lit(Value::Bool(false))),
                    "null" => return Ok(Expr::Lit(Value::Null)),
                    "case" => return self.case(),
                    "select" | "from" | "where" | "as" | "and" | "or" | "not" | "in" | "when"
                    | "then" | "else" | "end" => {
                        self.pos -= 1;
                        return self.error("an expression");
                    }
                    _ => {}
                }
                if *self.peek() != Tok::LParen {
                    return Ok(Expr::Name(name));
                }
                self.bump();
                if lower == "cast" {
                    let e = self.expr()?;
                    if !self.eat_kw("as") {
                        return self.error("AS in cast(value AS type)");
                    }
                    let ty_at = self.here();
                    let ty = self.name()?.to_ascii_lowercase();
                    let known = [
                        "string", "nvarchar", "text", "ntext", "varchar", "int", "integer",
                        "double",
                    ];
                    if !known.contains(&ty.as_str()) {
                        if ["decimal", "bool", "boolean"].contains(&ty.as_str()) {
                            self.v2("cast to Decimal or Boolean", ty_at)?;
                        } else {
                            return Err(ParseError::new(format!("unknown type '{ty}'"), ty_at));
                        }
                    }
                    self.expect(Tok::RParen, "')'")?;
                    return Ok(Expr::Cast(Box::new(e), ty));
                }
                if !crate::functions::is_known(&lower) {
                    return Err(ParseError::new(format!("unknown function '{name}'"), at));
                }
                if V2_ONLY.contains(&lower.as_str()) {
                    self.v2(&format!("function {lower}()"), at)?;
                }
                let args = self.list(Tok::RParen)?;
                Ok(Expr::Call(lower, args))
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                self.error("an expression")
            }
        }
    }

    fn case(&mut self) -> Result<Expr, ParseError> {
        let operand = if self.is_kw("when") { None } else { Some(Box::new(self.expr()?)) };
        let mut arms = Vec::new();
        while self.eat_kw("when") {
            let when = self.expr()?;
            if !self.eat_kw("then") {
                return self.error("THEN");
            }
            arms.push((when, self.expr()?));
        }
        if arms.is_empty() {
            return self.error("WHEN");
        }
        let otherwise = if self.eat_kw("else") { Some(Box::new(self.expr()?)) } else { None };
        if !self.eat_kw("end") {
            return self.error("END");
        }
        Ok(Expr::Case { operand, arms, otherwise })
    }
}
