//! IAM-style wildcard matching: `*` is any sequence of characters (including `/` and `:`), `?`
//! is exactly one character, everything else is literal.
//!
//! AWS IoT: "Inserting an `*` (asterisk) in the string can be treated as a wildcard, matching any
//! characters ... The characters `+` and `#` are treated as literal strings in a policy"
//! (developerguide/iot-policy-variables.html); IAM: "An asterisk (*) represents any combination of
//! zero or more characters, and a question mark (?) represents any single character"
//! (IAM User Guide, reference_policies_elements_resource.html). MQTT's `+` and `#` are therefore
//! literal here, which is what makes `topicfilter/a/+` match only the filter `a/+`.
//!
//! Patterns are token lists, so a `*` that came from `${*}` or from a substituted value is a
//! literal character and never a wildcard.

/// One element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// This exact character.
    Lit(char),
    /// Zero or more characters.
    Any,
    /// Exactly one character.
    One,
}

/// Appends `text` with `*` and `?` as wildcards.
pub(crate) fn push_wild(text: &str, out: &mut Vec<Token>) {
    out.extend(text.chars().map(|c| match c {
        '*' => Token::Any,
        '?' => Token::One,
        c => Token::Lit(c),
    }));
}

/// Appends `text` with every character literal.
pub(crate) fn push_literal(text: &str, out: &mut Vec<Token>) {
    out.extend(text.chars().map(Token::Lit));
}

/// A pattern with wildcards, from a plain string.
pub(crate) fn compile(text: &str) -> Vec<Token> {
    let mut out = Vec::with_capacity(text.len());
    push_wild(text, &mut out);
    out
}

/// Whether `pattern` matches all of `text`; `fold` compares case-insensitively.
///
/// Greedy two-pointer match with one backtrack point: O(len(pattern) * len(text)) at worst, no
/// recursion, so hostile patterns cannot blow the stack.
pub(crate) fn matches(pattern: &[Token], text: &str, fold: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| a == b || (fold && a.to_lowercase().eq(b.to_lowercase()));
    let (mut p, mut t) = (0, 0);
    // Position of the last `*` seen and the text position it is currently made to cover up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(Token::One) => {
                p += 1;
                t += 1;
                continue;
            }
            Some(Token::Lit(c)) if same(*c, text[t]) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|token| *token == Token::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let m = |p: &str, t: &str| matches(&compile(p), t, false);
        assert!(m("*", ""));
        assert!(m("a*", "a/b/c"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*b*", "abc"));
        assert!(!m("a/+", "a/b"));
        assert!(m("a/+", "a/+"));
        assert!(m("a*b*c", "a-b-b-c"));
        assert!(!m("a*b*c", "a-b-b-d"));
        assert!(m("**", "x"));
        assert!(matches(&compile("IOT:conn*"), "iot:Connect", true));
        assert!(!matches(&compile("IOT:conn*"), "iot:Connect", false));
    }
}
