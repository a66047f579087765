//! SQL text as the server's lexer reads it (standard_conforming_strings on):
//! tokens past whitespace, `--` and nested `/* */` comments, with '…',
//! E'…', $tag$…$tag$ and "…" taken whole; the statements of a script; the
//! transaction control they hold. Used for command tags, scripts, the
//! transaction state of a connection and `mogrify`'s placeholders. And the
//! quoting of identifiers (function, channel, savepoint names).

use crate::error::{quoted, Error, Result};

/// `word` is the keyword `keyword` (any case).
pub(crate) fn is(word: &str, keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// A keyword or unquoted identifier.
    Word(&'a str),
    /// A string constant or quoted identifier.
    Literal,
    Open,
    Close,
    Comma,
    /// A parameter placeholder (`$1`), its text.
    Param(&'a str),
    /// Anything else: numbers, operators, `;`.
    Other,
}

/// SQL tokens, as PostgreSQL's lexer splits them (standard_conforming_strings on).
#[derive(Clone)]
pub(crate) struct Lexer<'a> {
    sql: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(sql: &'a str) -> Lexer<'a> {
        Lexer { sql, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<Token<'a>> {
        self.clone().next()
    }

    /// Consumes the next token if it is the word `keyword`.
    pub(crate) fn eat(&mut self, keyword: &str) -> bool {
        let hit = matches!(self.peek(), Some(Token::Word(w)) if is(w, keyword));
        if hit {
            self.next();
        }
        hit
    }

    /// The next token if it is a word (consumed either way).
    pub(crate) fn next_word(&mut self) -> Option<&'a str> {
        match self.next()? {
            Token::Word(w) => Some(w),
            _ => None,
        }
    }

    /// The next token, with a parenthesised group consumed whole (reported
    /// as its `Open`).
    pub(crate) fn next_top(&mut self) -> Option<Token<'a>> {
        let token = self.next()?;
        if token == Token::Open {
            let mut depth = 1usize;
            while depth > 0 {
                match self.next() {
                    Some(Token::Open) => depth += 1,
                    Some(Token::Close) => depth -= 1,
                    Some(_) => {}
                    None => break,
                }
            }
        }
        Some(token)
    }

    /// The remaining words outside parentheses.
    pub(crate) fn top_words(&self) -> impl Iterator<Item = &'a str> + Clone {
        let mut lex = self.clone();
        std::iter::from_fn(move || lex.next_top()).filter_map(|t| match t {
            Token::Word(w) => Some(w),
            _ => None,
        })
    }

    /// Moves past a quoted text whose opening `quote` is consumed; with
    /// `backslash`, `\` escapes the next byte (E'…').
    fn skip_quoted(&mut self, quote: u8, backslash: bool) {
        let b = self.sql.as_bytes();
        while let Some(&c) = b.get(self.pos) {
            self.pos += 1;
            if backslash && c == b'\\' {
                self.pos += 1;
            } else if c == quote {
                if b.get(self.pos) != Some(&quote) {
                    return;
                }
                self.pos += 1;
            }
        }
        self.pos = self.pos.min(b.len());
    }

    /// After a `$`: a parameter (`$1`), a dollar-quoted string, or a lone `$`.
    fn dollar(&mut self) -> Token<'a> {
        let b = self.sql.as_bytes();
        let start = self.pos - 1;
        if b.get(self.pos).is_some_and(u8::is_ascii_digit) {
            while b.get(self.pos).is_some_and(u8::is_ascii_digit) {
                self.pos += 1;
            }
            return Token::Param(&self.sql[start..self.pos]);
        }
        let mut end = self.pos;
        while b.get(end).is_some_and(|&c| is_ident_char(c) && c != b'$') {
            end += 1;
        }
        let delimiter = match self.sql.get(start..=end) {
            Some(d) if d.ends_with('$') => d,
            _ => return Token::Other,
        };
        let body = end + 1;
        self.pos = match self.sql.get(body..).and_then(|rest| rest.find(delimiter)) {
            Some(at) => body + at + delimiter.len(),
            None => self.sql.len(),
        };
        Token::Literal
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let b = self.sql.as_bytes();
        // Whitespace and comments.
        loop {
            let rest = b.get(self.pos..)?;
            match rest.first()? {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' => self.pos += 1,
                b'-' if rest.starts_with(b"--") => {
                    self.pos += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                }
                b'/' if rest.starts_with(b"/*") => {
                    self.pos += 2;
                    let mut depth = 1usize;
                    while depth > 0 && self.pos < b.len() {
                        let rest = &b[self.pos..];
                        if rest.starts_with(b"/*") {
                            depth += 1;
                            self.pos += 2;
                        } else if rest.starts_with(b"*/") {
                            depth -= 1;
                            self.pos += 2;
                        } else {
                            self.pos += 1;
                        }
                    }
                }
                _ => break,
            }
        }
        let start = self.pos;
        let c = b[start];
        self.pos += 1;
        Some(match c {
            b'(' => Token::Open,
            b')' => Token::Close,
            b',' => Token::Comma,
            b'\'' | b'"' => {
                self.skip_quoted(c, false);
                Token::Literal
            }
            b'$' => self.dollar(),
            b'e' | b'E' if b.get(self.pos) == Some(&b'\'') => {
                self.pos += 1;
                self.skip_quoted(b'\'', true);
                Token::Literal
            }
            c if is_ident_char(c) && c != b'$' => {
                while b.get(self.pos).is_some_and(|&c| is_ident_char(c)) {
                    self.pos += 1;
                }
                match self.sql.get(start..self.pos) {
                    Some(word) if !c.is_ascii_digit() => Token::Word(word),
                    _ => Token::Other,
                }
            }
            _ => Token::Other,
        })
    }
}

/// The statements of a script, each with its `;`: split at top-level
/// semicolons, a `BEGIN ATOMIC … END` function body kept whole (as psql does).
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    let mut lex = Lexer::new(sql);
    let (mut start, mut depth, mut done) = (0, 0usize, false);
    // Inside `BEGIN ATOMIC`: its nesting, counting the CASEs that END also closes.
    let mut atomic = 0usize;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while let Some(token) = lex.next() {
            match token {
                Token::Open => depth += 1,
                Token::Close => depth = depth.saturating_sub(1),
                Token::Word(w) if is(w, "BEGIN") && lex.eat("ATOMIC") => atomic += 1,
                Token::Word(w) if atomic > 0 && is(w, "CASE") => atomic += 1,
                Token::Word(w) if atomic > 0 && is(w, "END") => atomic -= 1,
                Token::Other
                    if depth == 0 && atomic == 0 && sql.as_bytes()[lex.pos - 1] == b';' =>
                {
                    let statement = &sql[start..lex.pos];
                    start = lex.pos;
                    return Some(statement);
                }
                _ => {}
            }
        }
        done = true;
        Some(&sql[start..])
    })
}

/// The first token of a statement, if it has one besides its `;`.
fn first_token(statement: &str) -> Option<Token<'_>> {
    let mut lex = Lexer::new(statement);
    // A `;` is a one-byte `Other` token.
    lex.next()
        .filter(|t| !(*t == Token::Other && statement.as_bytes()[lex.pos - 1] == b';'))
}

/// The statements of a script, each with its `;` (empty ones and comments
/// alone left out).
pub(crate) fn split_statements(sql: &str) -> Vec<&str> {
    statements(sql)
        .filter(|s| first_token(s).is_some())
        .collect()
}

/// Whether a statement of `sql` is a LISTEN.
pub(crate) fn has_listen(sql: &str) -> bool {
    let mentioned = sql
        .as_bytes()
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"listen"));
    mentioned
        && statements(sql)
            .any(|s| matches!(first_token(s), Some(Token::Word(w)) if is(w, "LISTEN")))
}

/// A script of several statements split before its last one:
/// `(everything up to the last statement's start, the last statement)`, or
/// `None` for a single statement (a trailing `;` and comments do not count).
pub(crate) fn split_last_statement(sql: &str) -> Option<(&str, &str)> {
    let mut count = 0;
    let mut last_start = 0;
    for statement in statements(sql) {
        if first_token(statement).is_some() {
            count += 1;
            last_start = statement.as_ptr() as usize - sql.as_ptr() as usize;
        }
    }
    (count > 1).then(|| sql.split_at(last_start))
}

/// Whether running `sql` (one statement or a script) leaves a transaction
/// open: `Some(true)` after a BEGIN / START TRANSACTION, `Some(false)` after
/// COMMIT, END, ROLLBACK (not `ROLLBACK TO`), ABORT or PREPARE TRANSACTION,
/// `None` when it has no transaction control. The last one counts.
pub(crate) fn transaction_control(sql: &str) -> Option<bool> {
    if !sql.contains(';') {
        return statement_control(sql);
    }
    statements(sql).filter_map(statement_control).last()
}

/// [`transaction_control`] of one statement.
fn statement_control(statement: &str) -> Option<bool> {
    let mut lex = Lexer::new(statement);
    let Some(Token::Word(w)) = lex.next() else {
        return None;
    };
    let ends = is(w, "COMMIT")
        || is(w, "END")
        || is(w, "ABORT")
        || (is(w, "ROLLBACK") && !rollback_continues_to(&mut lex))
        || (is(w, "PREPARE") && lex.eat("TRANSACTION"));
    if is(w, "BEGIN") || is(w, "START") {
        Some(true)
    } else {
        ends.then_some(false)
    }
}

/// After a ROLLBACK: whether `[WORK | TRANSACTION] TO` follows.
fn rollback_continues_to(lex: &mut Lexer<'_>) -> bool {
    let _ = lex.eat("WORK") || lex.eat("TRANSACTION");
    lex.eat("TO")
}

/// Letters, digits, `_`, `$` and every byte of a non-ASCII character.
fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Quotes a function name, keeping schema qualification and already-quoted parts.
pub(crate) fn quote_qualified(name: &str) -> Result<String> {
    if name.trim().is_empty() {
        return Err(Error::interface("function name is empty"));
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                current.push_str("\"\"");
                chars.next();
            }
            '"' => {
                in_quotes = !in_quotes;
                current.push('"');
            }
            '.' if !in_quotes => parts.push(std::mem::take(&mut current)),
            '\0' => return Err(Error::interface("function name contains a NUL byte")),
            c => current.push(c),
        }
    }
    if in_quotes {
        return Err(Error::interface(format!(
            "function name {} has an unclosed quote",
            quoted(name)
        )));
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| {
            if p.is_empty() {
                Err(Error::interface(format!(
                    "function name {} has an empty part",
                    quoted(name)
                )))
            } else if p.starts_with('"') && p.ends_with('"') && p.len() >= 2 {
                Ok(p)
            } else if p.contains('"') {
                Err(Error::interface(format!(
                    "function name {} has a stray quote",
                    quoted(name)
                )))
            } else {
                Ok(format!("\"{}\"", p.replace('"', "\"\"")))
            }
        })
        .collect::<Result<Vec<_>>>()
        .map(|parts| parts.join("."))
}

/// Quotes one identifier (a channel or cursor name), never qualified.
pub(crate) fn quote_qualified_single(name: &str) -> Result<String> {
    if name.is_empty() || name.contains('\0') {
        return Err(Error::interface(format!(
            "invalid identifier {}",
            quoted(name)
        )));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_follows_the_last_statement() {
        for (sql, effect) in [
            ("SELECT 1", None),
            ("begin", Some(true)),
            (
                "/* x */ START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
                Some(true),
            ),
            ("BEGIN; INSERT INTO t VALUES (1)", Some(true)),
            ("BEGIN; INSERT INTO t VALUES (1); COMMIT", Some(false)),
            ("ROLLBACK TO SAVEPOINT a", None),
            ("rollback work to a", None),
            ("ROLLBACK TRANSACTION TO SAVEPOINT a", None),
            ("ROLLBACK WORK", Some(false)),
            ("ROLLBACK", Some(false)),
            ("end", Some(false)),
            ("ABORT", Some(false)),
            ("PREPARE TRANSACTION 'x'", Some(false)),
            ("PREPARE q AS SELECT 1", None),
            ("SELECT 'BEGIN'; SELECT 2", None),
            ("DO $$ BEGIN PERFORM 1; END $$", None),
            (
                "BEGIN; CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
                Some(true),
            ),
        ] {
            assert_eq!(transaction_control(sql), effect, "{sql}");
        }
    }

    #[test]
    fn listen_is_found_as_a_statement() {
        for (sql, listen) in [
            ("LISTEN jobs", true),
            ("  /* c */ listen \"Jobs\";", true),
            ("SELECT 1; LISTEN a", true),
            ("UNLISTEN jobs", false),
            ("SELECT 'LISTEN a'", false),
            ("SELECT listen FROM t", false),
            ("NOTIFY listen", false),
        ] {
            assert_eq!(has_listen(sql), listen, "{sql}");
        }
    }

    #[test]
    fn scripts_split_before_their_last_statement() {
        assert_eq!(
            split_last_statement("CREATE TABLE t (a int); INSERT INTO t VALUES (1)"),
            Some(("CREATE TABLE t (a int);", " INSERT INTO t VALUES (1)"))
        );
        assert_eq!(
            split_last_statement("SET a = 1;; SET b = 2;\nSELECT ';' AS s; -- done"),
            Some(("SET a = 1;; SET b = 2;", "\nSELECT ';' AS s; -- done"))
        );
        assert_eq!(
            split_last_statement("CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1; END; CALL p()"),
            Some((
                "CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1; END;",
                " CALL p()"
            ))
        );
        for single in [
            "SELECT 1",
            "SELECT 1;",
            "SELECT 1; -- trailing comment",
            "SELECT ';', $$;$$, E'\\';', \";\" /* ; */ FROM t",
            "DO $body$ BEGIN PERFORM 1; END $body$",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; \
             SELECT CASE WHEN true THEN 2 END; END",
            "",
            ";",
            "SELECT (1; 2)",
        ] {
            assert_eq!(split_last_statement(single), None, "{single}");
        }
    }

    #[test]
    fn the_lexer_skips_quotes_and_comments() {
        let words = |sql| -> Vec<String> {
            Lexer::new(sql)
                .filter_map(|t| match t {
                    Token::Word(w) => Some(w.to_owned()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            words("a 'b '' c' E'd \\' e' $$ f $$ $q$ g $$ h $q$ \"i \"\" j\" k"),
            ["a", "k"]
        );
        assert_eq!(words("a /* b /* c */ d */ e -- f\ng"), ["a", "e", "g"]);
        assert_eq!(words("$1 x$y$ 1e5 ünïcode"), ["x$y$", "ünïcode"]);
        assert_eq!(words("e'x' E'y' e"), ["e"]);
        // Not dollar quotes: a lone $ and $ after a digit.
        assert_eq!(words("$ a $1$ b"), ["a", "b"]);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_qualified("mod").unwrap(), "\"mod\"");
        assert_eq!(quote_qualified("public.mod").unwrap(), "\"public\".\"mod\"");
        assert_eq!(quote_qualified("\"My.Func\"").unwrap(), "\"My.Func\"");
        assert_eq!(
            quote_qualified("s.\"we\"\"ird\"").unwrap(),
            "\"s\".\"we\"\"ird\""
        );
        for bad in ["", "a..b", "\"open", "a\"b", "x\0"] {
            assert!(quote_qualified(bad).is_err(), "{bad:?}");
        }
    }
}
