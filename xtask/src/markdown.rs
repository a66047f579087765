//! Generated sections of BENCHMARKS.md: the text between a pair of marker
//! comments is rewritten, the rest of the file is left as it was written.

use std::path::Path;

/// Where a section goes in a file that does not have its markers yet.
#[derive(Clone, Copy)]
pub enum Place {
    /// Before the file's first `## ` heading (after its title and intro).
    BeforeFirstHeading,
    /// At the end of the file.
    AtEnd,
}

/// Replaces what stands between `begin` and `end` in the Markdown file at
/// `path` (markers included) with `begin`, `body` and `end`, followed by one
/// blank line; puts it at `place` when the markers are not there yet.
pub fn write_section(
    path: &Path,
    (begin, end): (&str, &str),
    body: &str,
    place: Place,
) -> Result<(), String> {
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let updated = replace_section(&existing, (begin, end), body, place);
    std::fs::write(path, updated).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn replace_section(text: &str, (begin, end): (&str, &str), body: &str, place: Place) -> String {
    let block = format!("{begin}\n{body}{end}");
    match (text.find(begin), text.find(end)) {
        (Some(b), Some(e)) if e > b => format!(
            "{}{block}\n\n{}",
            &text[..b],
            text[e + end.len()..].trim_start_matches('\n')
        ),
        _ => match place {
            Place::AtEnd => format!("{}\n{block}\n", text.trim_end()),
            Place::BeforeFirstHeading => {
                let (head, rest) = match text.find("\n## ") {
                    Some(i) => text.split_at(i + 1),
                    None => (text, ""),
                };
                format!("{head}\n{block}\n\n{rest}")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKS: (&str, &str) = ("<!-- b -->", "<!-- e -->");

    #[test]
    fn a_section_is_replaced_in_place_or_placed_once() {
        let text = "# T\n\nintro\n\n<!-- b -->\nold\n<!-- e -->\n\n\n## Next\n";
        assert_eq!(
            replace_section(text, MARKS, "new\n", Place::AtEnd),
            "# T\n\nintro\n\n<!-- b -->\nnew\n<!-- e -->\n\n## Next\n"
        );
        let bare = "# T\n\nintro\n## Next\n";
        assert_eq!(
            replace_section(bare, MARKS, "new\n", Place::BeforeFirstHeading),
            "# T\n\nintro\n\n<!-- b -->\nnew\n<!-- e -->\n\n## Next\n"
        );
        assert_eq!(
            replace_section(bare, MARKS, "new\n", Place::AtEnd),
            "# T\n\nintro\n## Next\n<!-- b -->\nnew\n<!-- e -->\n"
        );
    }
}
