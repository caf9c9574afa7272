//! Splits SQL text into tokens, each with its character position.

use crate::error::ParseError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A name or keyword (keywords are recognised by the parser, case-insensitively).
    Ident(String),
    /// A quoted string literal (single or double quotes).
    Str(String),
    /// A whole-number literal.
    Int(i64),
    /// A literal with a fraction or exponent.
    Dec(f64),
    Star,
    Comma,
    Dot,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Colon,
    Plus,
    Minus,
    Slash,
    Percent,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

/// Tokenizes `sql`; positions are character offsets.
pub(crate) fn lex(sql: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '*' => Tok::Star,
            ',' => Tok::Comma,
            '.' if !chars.get(i + 1).is_some_and(char::is_ascii_digit) => Tok::Dot,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            ':' => Tok::Colon,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '=' => Tok::Eq,
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 1;
                Tok::Ne
            }
            '<' => match chars.get(i + 1) {
                Some('=') => {
                    i += 1;
                    Tok::Le
                }
                Some('>') => {
                    i += 1;
                    Tok::Ne
                }
                _ => Tok::Lt,
            },
            '>' if chars.get(i + 1) == Some(&'=') => {
                i += 1;
                Tok::Ge
            }
            '>' => Tok::Gt,
            '\'' | '"' => {
                let (text, end) = string(&chars, i)?;
                out.push((Tok::Str(text), start));
                i = end;
                continue;
            }
            c if c.is_ascii_digit() || c == '.' => {
                let (tok, end) = number(&chars, i)?;
                out.push((tok, start));
                i = end;
                continue;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                out.push((Tok::Ident(chars[start..i].iter().collect()), start));
                continue;
            }
            other => return Err(ParseError::new(format!("unexpected character '{other}'"), i)),
        };
        out.push((tok, start));
        i += 1;
    }
    out.push((Tok::Eof, chars.len()));
    Ok(out)
}

/// A quoted literal from `start` (the quote). A doubled quote or a backslash escapes the quote;
/// `\\` is one backslash; any other backslash is kept, so regular expressions such as `'\d+'`
/// read as written.
fn string(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(ParseError::new("unterminated string literal", start)),
            Some('\\') => match chars.get(i + 1) {
                Some(&c) if c == quote || c == '\\' => {
                    text.push(c);
                    i += 2;
                }
                _ => {
                    text.push('\\');
                    i += 1;
                }
            },
            Some(&c) if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    text.push(quote);
                    i += 2;
                } else {
                    return Ok((text, i + 1));
                }
            }
            Some(&c) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

fn number(chars: &[char], start: usize) -> Result<(Tok, usize), ParseError> {
    let mut i = start;
    let digits = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    let mut decimal = false;
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
        decimal = true;
        i += 1;
        digits(&mut i);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(char::is_ascii_digit) {
            decimal = true;
            i = j;
            digits(&mut i);
        }
    }
    let text: String = chars[start..i].iter().collect();
    if !decimal {
        if let Ok(n) = text.parse::<i64>() {
            return Ok((Tok::Int(n), i));
        }
    }
    match text.parse::<f64>() {
        Ok(d) if d.is_finite() => Ok((Tok::Dec(d), i)),
        _ => Err(ParseError::new(format!("invalid number '{text}'"), start)),
    }
}
