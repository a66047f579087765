//! The command tag of a statement — what the server sends in CommandComplete
//! (`SELECT 3`, `INSERT 0 1`, `CREATE INDEX`) — rebuilt from the SQL text,
//! because tokio-postgres keeps only the row count.
//!
//! The text is read the way the server's lexer reads it: whitespace, `--` and
//! nested `/* */` comments, '…', E'…', $tag$…$tag$ and "…" are skipped whole,
//! so is a `WITH` list in front of the main statement. The words that follow
//! are mapped to the tags of PostgreSQL 15 (`src/include/tcop/cmdtaglist.h`,
//! chosen as `CreateCommandTag` in `src/backend/tcop/utility.c` does).
//!
//! What the text cannot tell (and the tag says then):
//! - `EXECUTE name` takes the tag of the prepared statement: `SELECT n` when it
//!   returns columns, else `EXECUTE n` (no server sends that);
//! - `COMMIT` or `PREPARE TRANSACTION` in a failed transaction: the server
//!   says `ROLLBACK` (here `COMMIT`, `PREPARE TRANSACTION`; the connection,
//!   which saw the failure, corrects a lone `COMMIT` to `ROLLBACK`);
//! - `CREATE TABLE|MATERIALIZED VIEW IF NOT EXISTS … AS` when the relation
//!   exists: the server says `CREATE TABLE AS` / `CREATE MATERIALIZED VIEW`
//!   (here `SELECT 0`).

use std::borrow::Cow;

use crate::sql_text::{is, Lexer, Token};

/// The command tags of PostgreSQL 15 (cmdtaglist.h). `SELECT`, `INSERT`,
/// `UPDATE`, `DELETE`, `MERGE`, `COPY`, `FETCH` and `MOVE` go out with a row
/// count; the `SELECT FOR …`, `SELECT INTO`, `CREATE TABLE AS`,
/// `… CONSTRAINT`, `CLOSE`, `COPY FROM`, `DISCARD` and `EXECUTE` entries
/// exist for event triggers and error messages, a client never sees them.
const TAGS: &[&str] = &[
    "ALTER ACCESS METHOD",
    "ALTER AGGREGATE",
    "ALTER CAST",
    "ALTER COLLATION",
    "ALTER CONSTRAINT",
    "ALTER CONVERSION",
    "ALTER DATABASE",
    "ALTER DEFAULT PRIVILEGES",
    "ALTER DOMAIN",
    "ALTER EVENT TRIGGER",
    "ALTER EXTENSION",
    "ALTER FOREIGN DATA WRAPPER",
    "ALTER FOREIGN TABLE",
    "ALTER FUNCTION",
    "ALTER INDEX",
    "ALTER LANGUAGE",
    "ALTER LARGE OBJECT",
    "ALTER MATERIALIZED VIEW",
    "ALTER OPERATOR",
    "ALTER OPERATOR CLASS",
    "ALTER OPERATOR FAMILY",
    "ALTER POLICY",
    "ALTER PROCEDURE",
    "ALTER PUBLICATION",
    "ALTER ROLE",
    "ALTER ROUTINE",
    "ALTER RULE",
    "ALTER SCHEMA",
    "ALTER SEQUENCE",
    "ALTER SERVER",
    "ALTER STATISTICS",
    "ALTER SUBSCRIPTION",
    "ALTER SYSTEM",
    "ALTER TABLE",
    "ALTER TABLESPACE",
    "ALTER TEXT SEARCH CONFIGURATION",
    "ALTER TEXT SEARCH DICTIONARY",
    "ALTER TEXT SEARCH PARSER",
    "ALTER TEXT SEARCH TEMPLATE",
    "ALTER TRANSFORM",
    "ALTER TRIGGER",
    "ALTER TYPE",
    "ALTER USER MAPPING",
    "ALTER VIEW",
    "ANALYZE",
    "BEGIN",
    "CALL",
    "CHECKPOINT",
    "CLOSE",
    "CLOSE CURSOR",
    "CLOSE CURSOR ALL",
    "CLUSTER",
    "COMMENT",
    "COMMIT",
    "COMMIT PREPARED",
    "COPY",
    "COPY FROM",
    "CREATE ACCESS METHOD",
    "CREATE AGGREGATE",
    "CREATE CAST",
    "CREATE COLLATION",
    "CREATE CONSTRAINT",
    "CREATE CONVERSION",
    "CREATE DATABASE",
    "CREATE DOMAIN",
    "CREATE EVENT TRIGGER",
    "CREATE EXTENSION",
    "CREATE FOREIGN DATA WRAPPER",
    "CREATE FOREIGN TABLE",
    "CREATE FUNCTION",
    "CREATE INDEX",
    "CREATE LANGUAGE",
    "CREATE MATERIALIZED VIEW",
    "CREATE OPERATOR",
    "CREATE OPERATOR CLASS",
    "CREATE OPERATOR FAMILY",
    "CREATE POLICY",
    "CREATE PROCEDURE",
    "CREATE PUBLICATION",
    "CREATE ROLE",
    "CREATE ROUTINE",
    "CREATE RULE",
    "CREATE SCHEMA",
    "CREATE SEQUENCE",
    "CREATE SERVER",
    "CREATE STATISTICS",
    "CREATE SUBSCRIPTION",
    "CREATE TABLE",
    "CREATE TABLE AS",
    "CREATE TABLESPACE",
    "CREATE TEXT SEARCH CONFIGURATION",
    "CREATE TEXT SEARCH DICTIONARY",
    "CREATE TEXT SEARCH PARSER",
    "CREATE TEXT SEARCH TEMPLATE",
    "CREATE TRANSFORM",
    "CREATE TRIGGER",
    "CREATE TYPE",
    "CREATE USER MAPPING",
    "CREATE VIEW",
    "DEALLOCATE",
    "DEALLOCATE ALL",
    "DECLARE CURSOR",
    "DELETE",
    "DISCARD",
    "DISCARD ALL",
    "DISCARD PLANS",
    "DISCARD SEQUENCES",
    "DISCARD TEMP",
    "DO",
    "DROP ACCESS METHOD",
    "DROP AGGREGATE",
    "DROP CAST",
    "DROP COLLATION",
    "DROP CONSTRAINT",
    "DROP CONVERSION",
    "DROP DATABASE",
    "DROP DOMAIN",
    "DROP EVENT TRIGGER",
    "DROP EXTENSION",
    "DROP FOREIGN DATA WRAPPER",
    "DROP FOREIGN TABLE",
    "DROP FUNCTION",
    "DROP INDEX",
    "DROP LANGUAGE",
    "DROP MATERIALIZED VIEW",
    "DROP OPERATOR",
    "DROP OPERATOR CLASS",
    "DROP OPERATOR FAMILY",
    "DROP OWNED",
    "DROP POLICY",
    "DROP PROCEDURE",
    "DROP PUBLICATION",
    "DROP ROLE",
    "DROP ROUTINE",
    "DROP RULE",
    "DROP SCHEMA",
    "DROP SEQUENCE",
    "DROP SERVER",
    "DROP STATISTICS",
    "DROP SUBSCRIPTION",
    "DROP TABLE",
    "DROP TABLESPACE",
    "DROP TEXT SEARCH CONFIGURATION",
    "DROP TEXT SEARCH DICTIONARY",
    "DROP TEXT SEARCH PARSER",
    "DROP TEXT SEARCH TEMPLATE",
    "DROP TRANSFORM",
    "DROP TRIGGER",
    "DROP TYPE",
    "DROP USER MAPPING",
    "DROP VIEW",
    "EXECUTE",
    "EXPLAIN",
    "FETCH",
    "GRANT",
    "GRANT ROLE",
    "IMPORT FOREIGN SCHEMA",
    "INSERT",
    "LISTEN",
    "LOAD",
    "LOCK TABLE",
    "MERGE",
    "MOVE",
    "NOTIFY",
    "PREPARE",
    "PREPARE TRANSACTION",
    "REASSIGN OWNED",
    "REFRESH MATERIALIZED VIEW",
    "REINDEX",
    "RELEASE",
    "RESET",
    "REVOKE",
    "REVOKE ROLE",
    "ROLLBACK",
    "ROLLBACK PREPARED",
    "SAVEPOINT",
    "SECURITY LABEL",
    "SELECT",
    "SELECT FOR KEY SHARE",
    "SELECT FOR NO KEY UPDATE",
    "SELECT FOR SHARE",
    "SELECT FOR UPDATE",
    "SELECT INTO",
    "SET",
    "SET CONSTRAINTS",
    "SHOW",
    "START TRANSACTION",
    "TRUNCATE TABLE",
    "UNLISTEN",
    "UPDATE",
    "VACUUM",
];

/// Words between `CREATE` and the kind of object that are not part of the
/// tag (`CREATE OR REPLACE TEMP VIEW` is `CREATE VIEW`; a `CONSTRAINT
/// TRIGGER` is a `TRIGGER`, a `DEFAULT CONVERSION` a `CONVERSION`).
const CREATE_MODIFIERS: &[&str] = &[
    "OR",
    "REPLACE",
    "TEMP",
    "TEMPORARY",
    "GLOBAL",
    "LOCAL",
    "UNLOGGED",
    "UNIQUE",
    "TRUSTED",
    "PROCEDURAL",
    "DEFAULT",
    "CONSTRAINT",
    "RECURSIVE",
];

/// The tag the server sends for `sql`, a single statement that affected (or
/// returned, for `SELECT`) `rows` rows. `has_columns` tells whether it
/// returns rows (only `EXECUTE` needs that). Empty for an empty statement.
pub(crate) fn command_tag(sql: &str, rows: u64, has_columns: bool) -> Cow<'static, str> {
    let counted = |tag: &str| Cow::Owned(format!("{tag} {rows}"));
    let mut lex = Lexer::new(sql);
    let Some(first) = leading_keyword(&mut lex) else {
        return Cow::Borrowed("");
    };
    let keyword = Upper::of(first);
    let tag = match keyword.as_str() {
        "SELECT" | "VALUES" | "TABLE" => return counted("SELECT"),
        "INSERT" => return counted("INSERT 0"),
        "UPDATE" | "DELETE" | "MERGE" | "COPY" | "FETCH" | "MOVE" => {
            return counted(keyword.as_str())
        }
        "EXECUTE" if has_columns => return counted("SELECT"),
        "EXECUTE" => return counted("EXECUTE"),
        "CREATE" => return create(&mut lex, rows),
        "ALTER" | "DROP" => {
            lex.eat("PROCEDURAL");
            return object_tag(keyword.as_str(), &mut lex);
        }
        "START" => "START TRANSACTION",
        "COMMIT" | "END" if lex.eat("PREPARED") => "COMMIT PREPARED",
        "COMMIT" | "END" => "COMMIT",
        "ROLLBACK" | "ABORT" if lex.eat("PREPARED") => "ROLLBACK PREPARED",
        "ROLLBACK" | "ABORT" => "ROLLBACK",
        // PREPARE TRANSACTION 'gid', unlike a statement named "transaction".
        "PREPARE" if lex.eat("TRANSACTION") && lex.next() == Some(Token::Literal) => {
            "PREPARE TRANSACTION"
        }
        "SET" if lex.eat("CONSTRAINTS") => "SET CONSTRAINTS",
        "DISCARD" => match lex.next_word().map(Upper::of).as_ref().map(Upper::as_str) {
            Some("ALL") => "DISCARD ALL",
            Some("PLANS") => "DISCARD PLANS",
            Some("SEQUENCES") => "DISCARD SEQUENCES",
            Some("TEMP" | "TEMPORARY") => "DISCARD TEMP",
            _ => "DISCARD",
        },
        "DEALLOCATE" if lex.eat("PREPARE") && lex.eat("ALL") => "DEALLOCATE ALL",
        "DEALLOCATE" if lex.eat("ALL") => "DEALLOCATE ALL",
        "CLOSE" if lex.eat("ALL") => "CLOSE CURSOR ALL",
        "CLOSE" => "CLOSE CURSOR",
        "DECLARE" => "DECLARE CURSOR",
        "TRUNCATE" => "TRUNCATE TABLE",
        "LOCK" => "LOCK TABLE",
        "ANALYSE" => "ANALYZE",
        // GRANT/REVOKE … ON object, or of a role.
        "GRANT" if !lex.top_words().any(|w| is(w, "ON")) => "GRANT ROLE",
        "REVOKE" if !lex.top_words().any(|w| is(w, "ON")) => "REVOKE ROLE",
        "SECURITY" => "SECURITY LABEL",
        "IMPORT" => "IMPORT FOREIGN SCHEMA",
        "REASSIGN" => "REASSIGN OWNED",
        "REFRESH" => "REFRESH MATERIALIZED VIEW",
        // BEGIN, SHOW, EXPLAIN, SAVEPOINT, RELEASE, RESET, VACUUM, CALL, DO, …
        word => match TAGS.iter().find(|tag| **tag == word) {
            Some(tag) => tag,
            None => return Cow::Owned(first.to_ascii_uppercase()),
        },
    };
    Cow::Borrowed(tag)
}

/// `CREATE …`: most name the object; `CREATE TABLE … AS` and `CREATE
/// MATERIALIZED VIEW` report the rows they stored.
fn create(lex: &mut Lexer<'_>, rows: u64) -> Cow<'static, str> {
    while CREATE_MODIFIERS.iter().any(|m| lex.eat(m)) {}
    let mut after = lex.clone();
    let selected = || Cow::Owned(format!("SELECT {rows}"));
    match after.next_word().map(Upper::of).as_ref().map(Upper::as_str) {
        Some("TABLE") => {
            let mut words = after.top_words().skip_while(|w| !is(w, "AS"));
            match (words.next(), words.clone().next()) {
                (None, _) => Cow::Borrowed("CREATE TABLE"),
                // … AS EXECUTE name says SELECT n even WITH NO DATA.
                (_, Some(w)) if is(w, "EXECUTE") => selected(),
                _ if with_no_data(words) => Cow::Borrowed("CREATE TABLE AS"),
                _ => selected(),
            }
        }
        Some("MATERIALIZED") if after.eat("VIEW") => {
            if with_no_data(after.top_words()) {
                Cow::Borrowed("CREATE MATERIALIZED VIEW")
            } else {
                selected()
            }
        }
        // CREATE LANGUAGE without a HANDLER is taken for CREATE EXTENSION.
        Some("LANGUAGE") if !after.top_words().any(|w| is(w, "HANDLER")) => {
            Cow::Borrowed("CREATE EXTENSION")
        }
        _ => object_tag("CREATE", lex),
    }
}

/// True when the words hold `WITH NO DATA`.
fn with_no_data<'a>(mut words: impl Iterator<Item = &'a str>) -> bool {
    let mut last = ["", ""];
    words.any(|w| {
        let found = is(last[0], "WITH") && is(last[1], "NO") && is(w, "DATA");
        last = [last[1], w];
        found
    })
}

/// `verb` and the kind of object the words after it name, as in
/// `DROP TEXT SEARCH DICTIONARY`: the longest such tag in [`TAGS`].
fn object_tag(verb: &str, lex: &mut Lexer<'_>) -> Cow<'static, str> {
    let mut words = [""; 3];
    for slot in &mut words {
        match lex.next_word() {
            Some(w) => *slot = w,
            None => break,
        }
    }
    // USER and GROUP are ROLE, except in [CREATE|ALTER|DROP] USER MAPPING
    // [IF [NOT] EXISTS] FOR (a user may be called "mapping").
    let user_mapping = is(words[1], "MAPPING") && (is(words[2], "FOR") || is(words[2], "IF"));
    if is(words[0], "GROUP") || (is(words[0], "USER") && !user_mapping) {
        words = ["ROLE", "", ""];
    }
    let best = TAGS
        .iter()
        .filter_map(|tag| {
            let object = tag.strip_prefix(verb)?.strip_prefix(' ')?;
            let mut n = 0;
            for part in object.split(' ') {
                if !is(words.get(n)?, part) {
                    return None;
                }
                n += 1;
            }
            Some((n, *tag))
        })
        .max_by_key(|(n, _)| *n);
    match best {
        Some((_, tag)) => Cow::Borrowed(tag),
        None if words[0].is_empty() => Cow::Owned(verb.to_owned()),
        None => Cow::Owned(format!("{verb} {}", words[0].to_ascii_uppercase())),
    }
}

/// The first word of the main statement: past opening parentheses and a
/// `WITH` list. `None` when there is no word (an empty statement).
fn leading_keyword<'a>(lex: &mut Lexer<'a>) -> Option<&'a str> {
    loop {
        match lex.next()? {
            Token::Open => {}
            Token::Word(w) if is(w, "WITH") => skip_ctes(lex),
            Token::Word(w) => return Some(w),
            _ => return None,
        }
    }
}

/// Skips `[RECURSIVE] name [(columns)] AS [NOT] [MATERIALIZED] (query)
/// [SEARCH … SET column] [CYCLE … USING column], …` after `WITH`.
fn skip_ctes(lex: &mut Lexer<'_>) {
    lex.eat("RECURSIVE");
    loop {
        lex.next(); // the name
        if lex.peek() == Some(Token::Open) {
            lex.next_top(); // the column names
        }
        if !lex.eat("AS") {
            return;
        }
        lex.eat("NOT");
        lex.eat("MATERIALIZED");
        if lex.next_top() != Some(Token::Open) {
            return;
        }
        for (clause, last) in [("SEARCH", "SET"), ("CYCLE", "USING")] {
            if lex.eat(clause) {
                while lex
                    .next_top()
                    .is_some_and(|t| !matches!(t, Token::Word(w) if is(w, last)))
                {}
                lex.next(); // the column
            }
        }
        if lex.peek() != Some(Token::Comma) {
            return;
        }
        lex.next();
    }
}

/// A keyword in upper case, on the stack (empty for words longer than any
/// keyword).
struct Upper {
    buf: [u8; 16],
    len: usize,
}

impl Upper {
    fn of(word: &str) -> Upper {
        let mut upper = Upper {
            buf: [0; 16],
            len: 0,
        };
        if word.len() <= upper.buf.len() && word.is_ascii() {
            upper.buf[..word.len()].copy_from_slice(word.as_bytes());
            upper.buf[..word.len()].make_ascii_uppercase();
            upper.len = word.len();
        }
        upper
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::{command_tag, TAGS};
    use crate::sql_text::{split_last_statement, transaction_control};

    fn tag(sql: &str, rows: u64) -> String {
        command_tag(sql, rows, false).into_owned()
    }

    /// Statements a guess from the first word got wrong, with the server's tags.
    #[test]
    fn audit_rows() {
        let cases = [
            ("/* c */ INSERT INTO t VALUES (1)", 1, "INSERT 0 1"),
            (
                "WITH x AS (SELECT 2) INSERT INTO t SELECT * FROM x",
                2,
                "INSERT 0 2",
            ),
            ("SHOW TimeZone", 1, "SHOW"),
            ("EXPLAIN SELECT 1", 1, "EXPLAIN"),
            ("CREATE TEMP TABLE tt AS SELECT * FROM t", 4, "SELECT 4"),
            ("SELECT * INTO TEMP tt3 FROM t", 4, "SELECT 4"),
            ("CREATE UNIQUE INDEX ti ON t (v)", 0, "CREATE INDEX"),
            ("TRUNCATE tt", 0, "TRUNCATE TABLE"),
            (
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                0,
                "CREATE FUNCTION",
            ),
            ("START TRANSACTION", 0, "START TRANSACTION"),
            ("END", 0, "COMMIT"),
            ("ABORT", 0, "ROLLBACK"),
            (
                "-- line\nINSERT INTO t VALUES (3) RETURNING id",
                1,
                "INSERT 0 1",
            ),
            ("  (SELECT 1)", 1, "SELECT 1"),
            ("VALUES (1),(2)", 2, "SELECT 2"),
            ("TABLE t", 4, "SELECT 4"),
            (
                "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
                2,
                "MERGE 2",
            ),
            ("COPY t TO '/tmp/t.copy'", 5, "COPY 5"),
            ("FETCH 2 FROM c", 2, "FETCH 2"),
            ("MOVE 3 IN c", 3, "MOVE 3"),
            ("DECLARE c CURSOR FOR SELECT 1", 0, "DECLARE CURSOR"),
            (
                "CREATE MATERIALIZED VIEW mv AS SELECT * FROM t",
                5,
                "SELECT 5",
            ),
            (
                "REFRESH MATERIALIZED VIEW mv",
                0,
                "REFRESH MATERIALIZED VIEW",
            ),
            (
                "ALTER TABLE IF EXISTS t RENAME COLUMN w TO w2",
                0,
                "ALTER TABLE",
            ),
            ("DROP TABLE IF EXISTS tt", 0, "DROP TABLE"),
            ("DROP INDEX CONCURRENTLY IF EXISTS ti2", 0, "DROP INDEX"),
            ("CREATE SCHEMA IF NOT EXISTS sc", 0, "CREATE SCHEMA"),
            ("SET search_path = public", 0, "SET"),
            ("RESET ALL", 0, "RESET"),
            ("LISTEN chan", 0, "LISTEN"),
            ("NOTIFY chan, 'x'", 0, "NOTIFY"),
            ("DO $$ BEGIN END $$", 0, "DO"),
            ("CALL p(1)", 1, "CALL"),
            ("PREPARE q(int) AS SELECT $1", 0, "PREPARE"),
            ("DISCARD ALL", 0, "DISCARD ALL"),
            ("SAVEPOINT s1", 0, "SAVEPOINT"),
            ("RELEASE SAVEPOINT s1", 0, "RELEASE"),
            ("RELEASE s2", 0, "RELEASE"),
            ("ROLLBACK TO SAVEPOINT s3", 0, "ROLLBACK"),
            ("VACUUM t", 0, "VACUUM"),
            ("ANALYZE t", 0, "ANALYZE"),
            ("GRANT SELECT ON t TO r1", 0, "GRANT"),
            ("REVOKE SELECT ON t FROM r1", 0, "REVOKE"),
            ("COMMENT ON TABLE t IS 'x'", 0, "COMMENT"),
            ("select 1 where false", 0, "SELECT 0"),
        ];
        for (sql, rows, expected) in cases {
            assert_eq!(tag(sql, rows), expected, "{sql}");
        }
    }

    /// Statements and tags as a PostgreSQL 15 server answered them (the
    /// integration test `command_tags` checks the same against the server).
    #[test]
    fn server_tags() {
        let cases = [
            ("SELECT", 1, "SELECT 1"),
            ("SELECT 1;", 1, "SELECT 1"),
            ("select 1 -- trailing", 1, "SELECT 1"),
            ("/* outer /* nested */ still comment */ SELECT 1", 1, "SELECT 1"),
            ("((SELECT 1) UNION ALL (SELECT 2))", 2, "SELECT 2"),
            ("SELECT * FROM t FOR UPDATE", 6, "SELECT 6"),
            ("SELECT * FROM t FOR SHARE", 6, "SELECT 6"),
            ("SELECT INTO TEMP st FROM t", 5, "SELECT 5"),
            ("TABLE ONLY t2", 1, "SELECT 1"),
            ("VALUES (1) ORDER BY 1 LIMIT 1", 1, "SELECT 1"),
            ("(WITH x AS (SELECT 1) SELECT * FROM x)", 1, "SELECT 1"),
            ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r", 3, "SELECT 3"),
            ("WITH RECURSIVE r(n) AS (SELECT 1) SEARCH DEPTH FIRST BY n SET ord SELECT * FROM r", 3, "SELECT 3"),
            ("WITH RECURSIVE r(n) AS (SELECT 1) CYCLE n SET is_cycle USING path SELECT n FROM r", 3, "SELECT 3"),
            ("WITH r AS (SELECT 1) CYCLE a, b SET c TO 'y' DEFAULT 'n' USING p, q AS (SELECT 2) DELETE FROM t", 1, "DELETE 1"),
            ("WITH a AS MATERIALIZED (SELECT 1), b AS NOT MATERIALIZED (SELECT 2) DELETE FROM t WHERE id = 99", 0, "DELETE 0"),
            ("WITH d AS (DELETE FROM t WHERE id = 42 RETURNING *) SELECT * FROM d", 1, "SELECT 1"),
            ("WITH u AS (SELECT 1) UPDATE t SET v = 'q' WHERE id < 3", 2, "UPDATE 2"),
            ("WITH s AS (SELECT 2 AS id) MERGE INTO t2 USING s ON t2.id = s.id WHEN MATCHED THEN DELETE", 1, "MERGE 1"),
            ("WITH \"odd ) name\" (a, \"b)\") AS (SELECT ')', $x$)$x$) INSERT INTO t SELECT 1", 1, "INSERT 0 1"),
            ("WITH update AS (SELECT 1) UPDATE t SET v = 1", 3, "UPDATE 3"),
            ("INSERT INTO t2 VALUES (5, 'e') ON CONFLICT (id) DO NOTHING", 0, "INSERT 0 0"),
            ("UPDATE ONLY t2 SET v = 'x' RETURNING *", 3, "UPDATE 3"),
            ("DELETE FROM ONLY t2 WHERE id = 6 RETURNING id", 1, "DELETE 1"),
            ("COPY (SELECT 1 UNION ALL SELECT 2) TO '/tmp/u.copy'", 2, "COPY 2"),
            ("FETCH 0 FROM c", 1, "FETCH 1"),
            ("MOVE c3", 0, "MOVE 0"),
            ("DECLARE c2 BINARY CURSOR WITH HOLD FOR SELECT 1", 0, "DECLARE CURSOR"),
            ("CLOSE c", 0, "CLOSE CURSOR"),
            ("CLOSE ALL", 0, "CLOSE CURSOR ALL"),
            ("SHOW ALL", 354, "SHOW"),
            ("SHOW TIME ZONE", 1, "SHOW"),
            ("EXPLAIN ANALYZE INSERT INTO t VALUES (4, 'd')", 4, "EXPLAIN"),
            ("EXPLAIN ANALYZE CREATE TABLE w6 AS SELECT 1", 3, "EXPLAIN"),
            ("CREATE TEMP TABLE tt2 AS SELECT * FROM t WITH NO DATA", 0, "CREATE TABLE AS"),
            ("CREATE TABLE ct (x) AS VALUES (1), (2)", 2, "SELECT 2"),
            ("CREATE TABLE ct2 AS TABLE t", 5, "SELECT 5"),
            ("CREATE TABLE ct3 AS EXECUTE cq", 1, "SELECT 1"),
            ("CREATE TABLE ct4 AS EXECUTE cq WITH NO DATA", 0, "SELECT 0"),
            ("CREATE UNLOGGED TABLE ut AS SELECT 1 AS a", 1, "SELECT 1"),
            ("CREATE TABLE w2 USING heap AS SELECT 1 AS a", 1, "SELECT 1"),
            ("CREATE TEMP TABLE w3 ON COMMIT DROP AS SELECT 1 AS a", 1, "SELECT 1"),
            ("CREATE TEMP TABLE w4 (x, y) WITH (fillfactor = 70) AS WITH q AS (SELECT 1, 2) SELECT * FROM q", 1, "SELECT 1"),
            ("CREATE TABLE w5 AS SELECT 1 AS a WITH DATA", 1, "SELECT 1"),
            ("CREATE TABLE x1 AS (SELECT 1) WITH NO DATA;", 0, "CREATE TABLE AS"),
            ("(VALUES (1))", 1, "SELECT 1"),
            ("WITH x AS (SELECT 1) (SELECT * FROM x)", 1, "SELECT 1"),
            ("WITH x AS (SELECT 1) VALUES (1), (2)", 2, "SELECT 2"),
            ("WITH x AS (SELECT 1) TABLE x", 1, "SELECT 1"),
            ("SELECT 1 INTO x5 FROM generate_series(1, 3)", 3, "SELECT 3"),
            ("WITH RECURSIVE x AS (SELECT 1) SELECT * INTO x6 FROM x", 1, "SELECT 1"),
            ("CREATE TABLE w (a int) WITH (fillfactor = 70)", 0, "CREATE TABLE"),
            ("CREATE TABLE g (a int, b int GENERATED ALWAYS AS (a * 2) STORED)", 0, "CREATE TABLE"),
            ("CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10)", 0, "CREATE TABLE"),
            ("CREATE GLOBAL TEMPORARY TABLE gt (a int)", 0, "CREATE TABLE"),
            ("CREATE LOCAL TEMP TABLE lt (a int)", 0, "CREATE TABLE"),
            ("CREATE MATERIALIZED VIEW mv2 AS SELECT * FROM t WITH NO DATA", 0, "CREATE MATERIALIZED VIEW"),
            ("CREATE MATERIALIZED VIEW mvx (a) USING heap WITH (fillfactor = 70) TABLESPACE pg_default AS SELECT 1 WITH DATA", 1, "SELECT 1"),
            ("CREATE INDEX CONCURRENTLY IF NOT EXISTS ti2 ON t (v)", 0, "CREATE INDEX"),
            ("CREATE INDEX ON t2 (v)", 0, "CREATE INDEX"),
            ("CREATE OR REPLACE PROCEDURE p(INOUT x int) LANGUAGE plpgsql AS $$ BEGIN x := x + 1; END $$", 0, "CREATE PROCEDURE"),
            ("CREATE OR REPLACE VIEW v AS SELECT 1 AS a", 0, "CREATE VIEW"),
            ("CREATE TEMP VIEW tv AS SELECT 1", 0, "CREATE VIEW"),
            ("CREATE RECURSIVE VIEW rv (n) AS SELECT 1", 0, "CREATE VIEW"),
            ("CREATE UNLOGGED SEQUENCE s2", 0, "CREATE SEQUENCE"),
            ("CREATE TYPE en AS ENUM ('a')", 0, "CREATE TYPE"),
            ("CREATE CONSTRAINT TRIGGER ctr AFTER INSERT ON t FROM t DEFERRABLE FOR EACH ROW EXECUTE FUNCTION f()", 0, "CREATE TRIGGER"),
            ("CREATE OR REPLACE TRIGGER trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f()", 0, "CREATE TRIGGER"),
            ("CREATE OR REPLACE RULE ru3 AS ON DELETE TO v2 DO INSTEAD NOTHING", 0, "CREATE RULE"),
            ("CREATE USER u7 WITH PASSWORD 'x'", 0, "CREATE ROLE"),
            ("CREATE GROUP g1", 0, "CREATE ROLE"),
            ("CREATE USER mapping", 0, "CREATE ROLE"),
            ("CREATE USER MAPPING FOR u1 SERVER srv", 0, "CREATE USER MAPPING"),
            ("CREATE USER MAPPING IF NOT EXISTS FOR u1 SERVER srv", 0, "CREATE USER MAPPING"),
            ("CREATE OR REPLACE AGGREGATE ag(int) (sfunc = int4pl, stype = int)", 0, "CREATE AGGREGATE"),
            ("CREATE TEXT SEARCH CONFIGURATION tsc (COPY = english)", 0, "CREATE TEXT SEARCH CONFIGURATION"),
            ("CREATE OPERATOR === (leftarg = int, rightarg = int, function = int4eq)", 0, "CREATE OPERATOR"),
            ("CREATE OPERATOR FAMILY of USING btree", 0, "CREATE OPERATOR FAMILY"),
            ("CREATE OPERATOR CLASS oc FOR TYPE int USING btree AS OPERATOR 1 <", 0, "CREATE OPERATOR CLASS"),
            ("CREATE DEFAULT CONVERSION cv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8", 0, "CREATE CONVERSION"),
            ("CREATE ACCESS METHOD am TYPE INDEX HANDLER bthandler", 0, "CREATE ACCESS METHOD"),
            ("CREATE TRUSTED PROCEDURAL LANGUAGE pl2 HANDLER plpgsql_call_handler", 0, "CREATE LANGUAGE"),
            ("CREATE OR REPLACE LANGUAGE plpgsql", 0, "CREATE EXTENSION"),
            ("CREATE FOREIGN DATA WRAPPER fdw", 0, "CREATE FOREIGN DATA WRAPPER"),
            ("CREATE FOREIGN TABLE ft (a int) SERVER srv", 0, "CREATE FOREIGN TABLE"),
            ("CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION etf()", 0, "CREATE EVENT TRIGGER"),
            ("CREATE OR REPLACE TRANSFORM FOR int LANGUAGE plpgsql (FROM SQL WITH FUNCTION tf(internal), TO SQL WITH FUNCTION tt(internal))", 0, "CREATE TRANSFORM"),
            ("CREATE SCHEMA sc2 CREATE TABLE x (a int) CREATE VIEW y AS SELECT 1", 0, "CREATE SCHEMA"),
            ("CREATE SCHEMA AUTHORIZATION postgres", 0, "CREATE SCHEMA"),
            ("CREATE TABLESPACE tsp LOCATION '/tmp/ts'", 0, "CREATE TABLESPACE"),
            ("CREATE SUBSCRIPTION sub CONNECTION 'host=none' PUBLICATION p WITH (connect = false)", 0, "CREATE SUBSCRIPTION"),
            ("ALTER TABLE t RENAME CONSTRAINT t_pkey TO t_pk", 0, "ALTER TABLE"),
            ("ALTER TABLE ALL IN TABLESPACE tsp SET TABLESPACE pg_default", 0, "ALTER TABLE"),
            ("ALTER MATERIALIZED VIEW mv RENAME COLUMN v TO vv", 0, "ALTER MATERIALIZED VIEW"),
            ("ALTER VIEW v RENAME COLUMN a TO b", 0, "ALTER VIEW"),
            ("ALTER USER u1 NOSUPERUSER", 0, "ALTER ROLE"),
            ("ALTER GROUP g1 ADD USER u1", 0, "ALTER ROLE"),
            ("ALTER USER MAPPING FOR postgres SERVER srv OPTIONS (ADD a 'b')", 0, "ALTER USER MAPPING"),
            ("ALTER PROCEDURAL LANGUAGE pl2 RENAME TO pl3", 0, "ALTER LANGUAGE"),
            ("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO u1", 0, "ALTER DEFAULT PRIVILEGES"),
            ("ALTER SYSTEM SET work_mem = '4MB'", 0, "ALTER SYSTEM"),
            ("ALTER LARGE OBJECT 4242 OWNER TO postgres", 0, "ALTER LARGE OBJECT"),
            ("ALTER OPERATOR CLASS oc2 USING btree RENAME TO oc3", 0, "ALTER OPERATOR CLASS"),
            ("ALTER TEXT SEARCH DICTIONARY d (StopWords = english)", 0, "ALTER TEXT SEARCH DICTIONARY"),
            ("ALTER FOREIGN DATA WRAPPER fdw OPTIONS (ADD x 'y')", 0, "ALTER FOREIGN DATA WRAPPER"),
            ("ALTER ROUTINE f2() RENAME TO f3", 0, "ALTER ROUTINE"),
            ("ALTER EVENT TRIGGER et DISABLE", 0, "ALTER EVENT TRIGGER"),
            ("ALTER TABLESPACE tsp SET (random_page_cost = 2)", 0, "ALTER TABLESPACE"),
            ("DROP USER u1", 0, "DROP ROLE"),
            ("DROP GROUP g1", 0, "DROP ROLE"),
            ("DROP USER MAPPING FOR postgres SERVER srv", 0, "DROP USER MAPPING"),
            ("DROP OWNED BY u1", 0, "DROP OWNED"),
            ("DROP PROCEDURAL LANGUAGE pl3", 0, "DROP LANGUAGE"),
            ("DROP TEXT SEARCH CONFIGURATION tsc2", 0, "DROP TEXT SEARCH CONFIGURATION"),
            ("DROP OPERATOR FAMILY of USING btree", 0, "DROP OPERATOR FAMILY"),
            ("DROP MATERIALIZED VIEW mv", 0, "DROP MATERIALIZED VIEW"),
            ("DROP SEQUENCE s4, s2", 0, "DROP SEQUENCE"),
            ("DROP TRANSFORM FOR int LANGUAGE plpgsql", 0, "DROP TRANSFORM"),
            ("BEGIN WORK", 0, "BEGIN"),
            ("BEGIN ISOLATION LEVEL SERIALIZABLE", 0, "BEGIN"),
            ("COMMIT WORK", 0, "COMMIT"),
            ("COMMIT AND CHAIN", 0, "COMMIT"),
            ("END WORK", 0, "COMMIT"),
            ("ROLLBACK AND CHAIN", 0, "ROLLBACK"),
            ("ABORT TRANSACTION", 0, "ROLLBACK"),
            ("ROLLBACK TO s3", 0, "ROLLBACK"),
            ("PREPARE TRANSACTION 'x'", 0, "PREPARE TRANSACTION"),
            ("PREPARE transaction AS SELECT 1", 0, "PREPARE"),
            ("COMMIT PREPARED 'x'", 0, "COMMIT PREPARED"),
            ("ROLLBACK PREPARED 'y'", 0, "ROLLBACK PREPARED"),
            ("SET LOCAL search_path = public", 0, "SET"),
            ("SET TIME ZONE 'UTC'", 0, "SET"),
            ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", 0, "SET"),
            ("SET TRANSACTION READ WRITE", 0, "SET"),
            ("SET CONSTRAINTS ALL IMMEDIATE", 0, "SET CONSTRAINTS"),
            ("RESET SESSION AUTHORIZATION", 0, "RESET"),
            ("UNLISTEN *", 0, "UNLISTEN"),
            ("DEALLOCATE q", 0, "DEALLOCATE"),
            ("DEALLOCATE PREPARE qi", 0, "DEALLOCATE"),
            ("DEALLOCATE ALL", 0, "DEALLOCATE ALL"),
            ("DEALLOCATE PREPARE ALL", 0, "DEALLOCATE ALL"),
            ("DISCARD PLANS", 0, "DISCARD PLANS"),
            ("DISCARD SEQUENCES", 0, "DISCARD SEQUENCES"),
            ("DISCARD TEMP", 0, "DISCARD TEMP"),
            ("DISCARD TEMPORARY", 0, "DISCARD TEMP"),
            ("VACUUM ANALYZE t", 0, "VACUUM"),
            ("VACUUM (ANALYZE) t", 0, "VACUUM"),
            ("ANALYSE t", 0, "ANALYZE"),
            ("GRANT SELECT (id) ON t TO r1", 0, "GRANT"),
            ("GRANT r1 TO u1", 0, "GRANT ROLE"),
            ("GRANT r5 TO postgres WITH ADMIN OPTION", 0, "GRANT ROLE"),
            ("REVOKE GRANT OPTION FOR SELECT ON t FROM r1", 0, "REVOKE"),
            ("REVOKE r1 FROM u1", 0, "REVOKE ROLE"),
            ("REVOKE ADMIN OPTION FOR r1 FROM u1", 0, "REVOKE ROLE"),
            ("LOCK t2", 0, "LOCK TABLE"),
            ("LOCK TABLE t2 IN SHARE MODE", 0, "LOCK TABLE"),
            ("CHECKPOINT", 0, "CHECKPOINT"),
            ("CLUSTER t2 USING t2_pk", 0, "CLUSTER"),
            ("REINDEX INDEX CONCURRENTLY t2_pk", 0, "REINDEX"),
            ("LOAD 'plpgsql'", 0, "LOAD"),
            ("REASSIGN OWNED BY u1 TO postgres", 0, "REASSIGN OWNED"),
            ("IMPORT FOREIGN SCHEMA public LIMIT TO (t2) FROM SERVER s2 INTO imp", 0, "IMPORT FOREIGN SCHEMA"),
            ("SECURITY LABEL FOR x ON TABLE t2 IS 'x'", 0, "SECURITY LABEL"),
            ("", 0, ""),
            (";", 0, ""),
            ("  -- just a comment", 0, ""),
        ];
        for (sql, rows, expected) in cases {
            assert_eq!(tag(sql, rows), expected, "{sql}");
        }
    }

    #[test]
    fn execute_takes_the_prepared_statement_s_tag() {
        assert_eq!(command_tag("EXECUTE q(5)", 1, true), "SELECT 1");
        assert_eq!(command_tag("EXECUTE qi", 1, false), "EXECUTE 1");
    }

    #[test]
    fn unknown_commands_keep_their_words() {
        assert_eq!(tag("frobnicate all", 0), "FROBNICATE");
        assert_eq!(tag("create gizmo g", 0), "CREATE GIZMO");
        assert_eq!(tag("drop", 0), "DROP");
        assert_eq!(tag("ALTER TABLE", 0), "ALTER TABLE");
    }

    #[test]
    fn the_tag_table_is_sorted_and_upper_case() {
        for tag in TAGS {
            assert!(tag
                .split(' ')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase())));
        }
        assert!(
            TAGS.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
    }

    /// Arbitrary text, including every prefix of tricky statements (unbalanced
    /// quotes, comments and parentheses), never panics.
    #[test]
    fn no_panics() {
        let samples = [
            "WITH RECURSIVE \"a\" (b) AS NOT MATERIALIZED (SELECT $x$ ) $x$) SEARCH BREADTH FIRST BY b SET o, c AS (VALUES (E'\\'')) CYCLE b SET d USING p SELECT 1",
            "CREATE TEMP TABLE t (a) WITH (x = 1) AS SELECT '(' WITH NO DATA",
            "/* /* */ -- \n (((( )) ' \" $a$ $$ e' ü ∂ 😀 GRANT x ON",
            "CREATE USER MAPPING IF NOT EXISTS FOR x",
        ];
        for sql in samples {
            for (i, _) in sql.char_indices() {
                let _ = command_tag(&sql[..i], 1, true);
                let _ = command_tag(&sql[i..], 1, false);
                let _ = (
                    split_last_statement(&sql[..i]),
                    transaction_control(&sql[i..]),
                );
            }
        }
        // xorshift over a small alphabet of significant characters.
        let alphabet: Vec<char> = "()'\"$-/*,;eE\\ \nwithasSELECTbeginATOMICcaseEND1ü😀"
            .chars()
            .collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let len = (state % 40) as usize;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = command_tag(&text, state, state % 2 == 0);
            if let Some((head, tail)) = split_last_statement(&text) {
                assert_eq!(format!("{head}{tail}"), text);
            }
            let _ = transaction_control(&text);
        }
    }
}
