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
/// recursion, so hostile patterns cannot blow the stack. Nothing is allocated: positions in
/// `text` are byte offsets, stepped a byte at a time when it is ASCII (ARNs almost always are)
/// and a character at a time otherwise.
pub(crate) fn matches(pattern: &[Token], text: &str, fold: bool) -> bool {
    if text.is_ascii() {
        let bytes = text.as_bytes();
        run(pattern, bytes.len(), |t| (char::from(bytes[t]), t + 1), fold)
    } else {
        let at = |t: usize| {
            let c = text[t..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            (c, t + c.len_utf8())
        };
        run(pattern, text.len(), at, fold)
    }
}

/// [`matches`] over a text of `len` bytes whose character at offset `t` (always a character
/// boundary below `len`) and the offset after it `at` gives.
fn run(pattern: &[Token], len: usize, at: impl Fn(usize) -> (char, usize), fold: bool) -> bool {
    let same = |a: char, b: char| {
        a == b
            || (fold
                && if a.is_ascii() && b.is_ascii() {
                    a.eq_ignore_ascii_case(&b)
                } else {
                    a.to_lowercase().eq(b.to_lowercase())
                })
    };
    let (mut p, mut t) = (0, 0);
    // Position of the last `*` seen and the text offset it is currently made to cover up to.
    let mut star: Option<(usize, usize)> = None;
    while t < len {
        let (c, after) = at(t);
        match pattern.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(Token::One) => {
                p += 1;
                t = after;
                continue;
            }
            Some(Token::Lit(l)) if same(*l, c) => {
                p += 1;
                t = after;
                continue;
            }
            _ => {}
        }
        // The `*` covers one more character: `st` is before `t`, so one starts there.
        match star {
            Some((sp, st)) => {
                let (_, next) = at(st);
                p = sp + 1;
                t = next;
                star = Some((sp, next));
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
        // Characters, not bytes: `?` takes one however long its encoding, and `*` backtracks
        // over whole characters.
        assert!(m("a?c", "aéc"));
        assert!(!m("a?c", "aé"));
        assert!(m("*é", "xyzé"));
        assert!(m("a*éb", "aééééb"));
        assert!(!m("a*éb", "aéééé"));
        assert!(m("t/?/*", "t/雪/x"));
        assert!(matches(&compile("TOPIC/É*"), "topic/éa", true));
    }

    /// The textbook answer: whether `pattern[p..]` matches `text[t..]`, by dynamic programming
    /// over characters.
    fn reference(pattern: &[Token], text: &[char], fold: bool) -> bool {
        let same = |a: char, b: char| a == b || (fold && a.to_lowercase().eq(b.to_lowercase()));
        // ok[p][t]: pattern[p..] matches text[t..].
        let mut ok = vec![vec![false; text.len() + 1]; pattern.len() + 1];
        ok[pattern.len()][text.len()] = true;
        for p in (0..pattern.len()).rev() {
            for t in (0..=text.len()).rev() {
                ok[p][t] = match pattern[p] {
                    Token::Any => ok[p + 1][t] || (t < text.len() && ok[p][t + 1]),
                    Token::One => t < text.len() && ok[p + 1][t + 1],
                    Token::Lit(c) => t < text.len() && same(c, text[t]) && ok[p + 1][t + 1],
                };
            }
        }
        ok[0][0]
    }

    proptest::proptest! {
        #[test]
        fn matching_agrees_with_the_textbook_answer(
            pattern in "[aAbé*?]{0,8}",
            text in "[aAbéÉ]{0,10}",
            fold: bool,
        ) {
            let compiled = compile(&pattern);
            let chars: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(
                matches(&compiled, &text, fold),
                reference(&compiled, &chars, fold),
                "{:?} against {:?}", pattern, text
            );
        }
    }
}
