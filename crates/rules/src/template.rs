//! Substitution templates: `${expression}` inside an action's string parameters, evaluated
//! with AWS IoT SQL against the original message (not the SELECT output), as AWS does. Pure.
//!
//! A template is parsed once, when the rule is created: every expression must parse, so a
//! broken template is refused then, not at the first message.

use ferrocore_sql::{Env, Input, Output, SqlVersion, Statement};

/// A parsed template: literal text and expressions, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Expr(Box<Statement>),
}

impl Template {
    /// Parses `text`. Errors name the expression that does not parse or is not closed.
    pub fn parse(text: &str, version: SqlVersion) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            literal.push_str(&rest[..start]);
            let body = &rest[start + 2..];
            let end = closing_brace(body)
                .ok_or_else(|| format!("Unterminated substitution template in '{text}'"))?;
            let expr = body[..end].trim();
            if expr.is_empty() {
                return Err(format!("Empty substitution template in '{text}'"));
            }
            let statement =
                Statement::parse(&format!("SELECT VALUE {expr}"), version).map_err(|e| {
                    format!("Invalid substitution template '${{{expr}}}': {}", e.message)
                })?;
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Expr(Box::new(statement)));
            rest = &body[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// Whether the template has no expression.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The literal text before the first expression (all of it for a literal template).
    pub fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Text(text)) => text,
            _ => "",
        }
    }

    /// The text with every expression replaced by its value: strings as they are, other
    /// values as JSON, Undefined (or an expression that fails) as nothing.
    pub fn render(&self, input: &Input<'_>, env: &dyn Env) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expr(statement) => match statement.evaluate(input, env) {
                    Ok(Some(Output::Json(serde_json::Value::String(s)))) => out.push_str(&s),
                    Ok(Some(Output::Json(value))) => out.push_str(&value.to_string()),
                    Ok(Some(Output::Binary(bytes))) => {
                        out.push_str(&String::from_utf8_lossy(&bytes));
                    }
                    Ok(None) => {}
                    Err(error) => tracing::debug!(%error, "substitution template failed"),
                },
            }
        }
        out
    }
}

/// The index in `body` of the `}` that closes a template, skipping braces of object literals
/// and anything inside single- or double-quoted strings.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '{') => depth += 1,
            (None, '}') if depth == 0 => return Some(i),
            (None, '}') => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocore_sql::FixedEnv;

    fn render(template: &str, payload: &str, topic: &str) -> String {
        let t = Template::parse(template, SqlVersion::V2016_03_23).unwrap();
        let input = Input {
            payload: payload.as_bytes(),
            topic,
            client_id: Some("dev1"),
            timestamp_ms: 1_700_000_000_000,
            ..Input::default()
        };
        t.render(&input, &FixedEnv { uuid: "u-1".into(), ..FixedEnv::default() })
    }

    #[test]
    fn literal_text_passes_through() {
        assert_eq!(render("a/b/c", "{}", "t"), "a/b/c");
        assert!(Template::parse("a/b", SqlVersion::default()).unwrap().is_literal());
        assert_eq!(render("cost is $5", "{}", "t"), "cost is $5");
    }

    #[test]
    fn expressions_are_evaluated_against_the_message() {
        assert_eq!(render("${topic()}/republish", "{}", "s/1"), "s/1/republish");
        assert_eq!(render("out/${topic(2)}", "{}", "s/kitchen"), "out/kitchen");
        assert_eq!(render("${replace(topic(),'/','-')}-x", "{}", "a/b/c"), "a-b-c-x");
        assert_eq!(render("t/${temp}", r#"{"temp": 21}"#, "t"), "t/21");
        assert_eq!(render("t/${room}", r#"{"room": "k"}"#, "t"), "t/k");
        assert_eq!(render("${clientid()}:${newuuid()}", "{}", "t"), "dev1:u-1");
        assert_eq!(render("${obj}", r#"{"obj": {"a": 1}}"#, "t"), r#"{"a":1}"#);
    }

    #[test]
    fn undefined_renders_as_nothing() {
        assert_eq!(render("a/${missing}/b", "{}", "t"), "a//b");
    }

    #[test]
    fn braces_inside_strings_and_literals_do_not_close() {
        assert_eq!(render("${concat('}', 'x')}", "{}", "t"), "}x");
        assert_eq!(render("${get({'k': 'v'}, 'k')}", "{}", "t"), "v");
    }

    #[test]
    fn broken_templates_are_refused() {
        assert!(Template::parse("a/${topic()", SqlVersion::default()).is_err());
        assert!(Template::parse("a/${}", SqlVersion::default()).is_err());
        assert!(Template::parse("a/${1 +}", SqlVersion::default()).is_err());
    }

    #[test]
    fn literal_prefix_is_the_text_before_the_first_expression() {
        let t = Template::parse("http://h/a/${topic()}", SqlVersion::default()).unwrap();
        assert_eq!(t.literal_prefix(), "http://h/a/");
    }
}
