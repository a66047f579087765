//! Text search types: `tsvector` and `tsquery`.

use super::{BoxError, Reader};

/// Appends `'lexeme'` with `'` and `\` doubled, as `tsvectorout` and
/// `tsqueryout` do.
fn push_lexeme(out: &mut String, lexeme: &str) {
    out.push('\'');
    for c in lexeme.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
}

/// `'lexeme':1A,2 'other'`: per lexeme, its positions with weights.
pub(super) fn tsvector(raw: &[u8]) -> Result<String, BoxError> {
    let mut r = Reader::new(raw, "tsvector");
    let n = r.len()?;
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        push_lexeme(&mut out, r.cstr()?);
        let positions = r.u16()?;
        for j in 0..positions {
            out.push(if j == 0 { ':' } else { ',' });
            let p = r.u16()?;
            out.push_str(&(p & 0x3fff).to_string());
            match p >> 14 {
                3 => out.push('A'),
                2 => out.push('B'),
                1 => out.push('C'),
                _ => {}
            }
        }
    }
    r.end()?;
    Ok(out)
}

enum Item<'a> {
    Operand {
        weight: u8,
        prefix: bool,
        text: &'a str,
    },
    Not,
    /// `&` (2), `|` (3), `<N>` (4) with its distance.
    Binary {
        op: u8,
        distance: i16,
    },
}

/// Output pieces still to write, innermost last (no recursion: a hostile
/// query nests as deep as its bytes allow).
enum Task {
    Node {
        index: usize,
        parent: i8,
        right_of_phrase: bool,
    },
    Text(&'static str),
    Distance(i16),
}

/// `tsqueryout`. The items come in prefix order, each operator followed by
/// its right operand, then its left one.
pub(super) fn tsquery(raw: &[u8]) -> Result<String, BoxError> {
    let mut r = Reader::new(raw, "tsquery");
    let n = r.len()?;
    let mut items = Vec::new();
    for _ in 0..n {
        items.push(match (r.u8()?, r.u8()?) {
            (1, weight) => Item::Operand {
                weight,
                prefix: r.u8()? != 0,
                text: r.cstr()?,
            },
            (2, 1) => Item::Not,
            (2, op @ (2 | 3)) => Item::Binary { op, distance: 0 },
            (2, 4) => Item::Binary {
                op: 4,
                distance: r.u16()? as i16,
            },
            _ => return Err(r.error("unknown item")),
        });
    }
    r.end()?;
    // ends[i]: the index just past the subtree at i (children come after their parent).
    let mut ends = vec![0usize; items.len()];
    for i in (0..items.len()).rev() {
        let end = |j: usize| {
            ends.get(j)
                .copied()
                .ok_or_else(|| r.error("missing operand"))
        };
        ends[i] = match items[i] {
            Item::Operand { .. } => i + 1,
            Item::Not => end(i + 1)?,
            Item::Binary { .. } => end(end(i + 1)?)?,
        };
    }
    if ends.first().is_some_and(|&end| end != items.len()) {
        return Err(r.error("dangling items"));
    }
    let mut out = String::new();
    let mut tasks = Vec::new();
    if !items.is_empty() {
        tasks.push(Task::Node {
            index: 0,
            parent: -1,
            right_of_phrase: false,
        });
    }
    while let Some(task) = tasks.pop() {
        let (index, parent, right_of_phrase) = match task {
            Task::Text(s) => {
                out.push_str(s);
                continue;
            }
            Task::Distance(d) => {
                out.push_str(&format!(" <{d}> "));
                continue;
            }
            Task::Node {
                index,
                parent,
                right_of_phrase,
            } => (index, parent, right_of_phrase),
        };
        let node = |index, parent, right_of_phrase| Task::Node {
            index,
            parent,
            right_of_phrase,
        };
        match items[index] {
            Item::Operand {
                weight,
                prefix,
                text,
            } => {
                push_lexeme(&mut out, text);
                if weight != 0 || prefix {
                    out.push(':');
                    if prefix {
                        out.push('*');
                    }
                    for (bit, letter) in [(8, 'A'), (4, 'B'), (2, 'C'), (1, 'D')] {
                        if weight & bit != 0 {
                            out.push(letter);
                        }
                    }
                }
            }
            Item::Not => {
                let paren = 4 < parent;
                if paren {
                    tasks.push(Task::Text(" )"));
                }
                tasks.push(node(index + 1, 4, false));
                tasks.push(Task::Text("!"));
                if paren {
                    tasks.push(Task::Text("( "));
                }
            }
            Item::Binary { op, distance } => {
                let priority = [0, 0, 2, 1, 3][usize::from(op)];
                let paren = priority < parent || (op == 4 && right_of_phrase);
                let right = index + 1;
                let left = ends[right];
                if paren {
                    tasks.push(Task::Text(" )"));
                }
                tasks.push(node(right, priority, op == 4));
                tasks.push(match (op, distance) {
                    (2, _) => Task::Text(" & "),
                    (3, _) => Task::Text(" | "),
                    (_, 1) => Task::Text(" <-> "),
                    _ => Task::Distance(distance),
                });
                tasks.push(node(left, priority, false));
                if paren {
                    tasks.push(Task::Text("( "));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::text_form::tests::truncations_fail;
    use postgres_types::Type;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn tsvector_from_the_server_bytes() {
        // tsvectorsend($$'a''b':1A,2B,3C,4 'c' x$$::tsvector)
        let raw = hex("00000003612762000004c0018002400300046300000078000000");
        assert_eq!(tsvector(&raw).unwrap(), "'a''b':1A,2B,3C,4 'c' 'x'");
        assert_eq!(tsvector(&[0, 0, 0, 0]).unwrap(), "");
        truncations_fail(&Type::TS_VECTOR, &raw);
    }

    #[test]
    fn tsquery_from_the_server_bytes() {
        // tsquerysend('a & b'), tsquerysend('a:*AB <3> !b')
        let and = hex("00000003020201000062000100006100");
        assert_eq!(tsquery(&and).unwrap(), "'a' & 'b'");
        let phrase = hex("000000040204000302010100006200010c016100");
        assert_eq!(tsquery(&phrase).unwrap(), "'a':*AB <3> !'b'");
        assert_eq!(tsquery(&[0, 0, 0, 0]).unwrap(), "");
        truncations_fail(&Type::TSQUERY, &and);
        truncations_fail(&Type::TSQUERY, &phrase);
        // An operator without operands, an operand too many, an unknown item.
        assert!(tsquery(&hex("000000010202")).is_err());
        assert!(tsquery(&hex("0000000201000061000100006200")).is_err());
        assert!(tsquery(&hex("000000010209")).is_err());
        // A million nested NOTs: no recursion.
        let mut deep = 1_000_001i32.to_be_bytes().to_vec();
        for _ in 0..1_000_000 {
            deep.extend_from_slice(&[2, 1]);
        }
        deep.extend_from_slice(&[1, 0, 0, b'a', 0]);
        let text = tsquery(&deep).unwrap();
        assert!(text.starts_with("!!!") && text.ends_with("!'a'"));
    }
}
