//! Geometric types.

use super::{push_float, BoxError, Reader};

/// The text form of a binary point (600), lseg, path, box, polygon, line
/// (628) or circle (718).
pub(super) fn decode(oid: u32, raw: &[u8]) -> Result<String, BoxError> {
    let mut r = Reader::new(raw, "geometric");
    let mut out = String::new();
    match oid {
        600 => point(&mut r, &mut out)?,
        // lseg: [(x1,y1),(x2,y2)]
        601 => points(&mut r, &mut out, 2, '[', ']')?,
        // path: closed ((…),(…)) or open [(…),(…)]
        602 => {
            let closed = r.u8()? != 0;
            let n = r.len()?;
            let (open, close) = if closed { ('(', ')') } else { ('[', ']') };
            points(&mut r, &mut out, n, open, close)?;
        }
        // box: (high),(low)
        603 => {
            point(&mut r, &mut out)?;
            out.push(',');
            point(&mut r, &mut out)?;
        }
        // polygon: ((…),(…))
        604 => {
            let n = r.len()?;
            points(&mut r, &mut out, n, '(', ')')?;
        }
        // line: {A,B,C}
        628 => {
            out.push('{');
            for i in 0..3 {
                if i > 0 {
                    out.push(',');
                }
                push_float(&mut out, r.f64()?, false);
            }
            out.push('}');
        }
        // circle: <(x,y),r>
        718 => {
            out.push('<');
            point(&mut r, &mut out)?;
            out.push(',');
            push_float(&mut out, r.f64()?, false);
            out.push('>');
        }
        _ => return Err("not a geometric type".into()),
    }
    r.end()?;
    Ok(out)
}

fn point(r: &mut Reader, out: &mut String) -> Result<(), BoxError> {
    out.push('(');
    push_float(out, r.f64()?, false);
    out.push(',');
    push_float(out, r.f64()?, false);
    out.push(')');
    Ok(())
}

fn points(
    r: &mut Reader,
    out: &mut String,
    n: usize,
    open: char,
    close: char,
) -> Result<(), BoxError> {
    out.push(open);
    // A claimed count beyond the bytes at hand fails at the first missing point.
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        point(r, out)?;
    }
    out.push(close);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::text_form::tests::truncations_fail;
    use postgres_types::Type;

    fn bytes(floats: &[f64]) -> Vec<u8> {
        floats.iter().flat_map(|f| f.to_be_bytes()).collect()
    }

    #[test]
    fn shapes() {
        let text = |ty: &Type, raw: &[u8]| decode(ty.oid(), raw).unwrap();
        let four = bytes(&[3.0, 4.0, 1.0, -2.5]);
        assert_eq!(text(&Type::POINT, &four[..16]), "(3,4)");
        assert_eq!(text(&Type::BOX, &four), "(3,4),(1,-2.5)");
        assert_eq!(text(&Type::LSEG, &four), "[(3,4),(1,-2.5)]");
        assert_eq!(text(&Type::LINE, &four[..24]), "{3,4,1}");
        assert_eq!(text(&Type::CIRCLE, &four[..24]), "<(3,4),1>");
        let mut path = vec![1u8, 0, 0, 0, 2];
        path.extend_from_slice(&four);
        assert_eq!(text(&Type::PATH, &path), "((3,4),(1,-2.5))");
        path[0] = 0;
        assert_eq!(text(&Type::PATH, &path), "[(3,4),(1,-2.5)]");
        let polygon = &path[1..];
        assert_eq!(text(&Type::POLYGON, polygon), "((3,4),(1,-2.5))");
        for (ty, raw) in [
            (Type::POINT, &four[..16]),
            (Type::BOX, &four),
            (Type::LSEG, &four),
            (Type::LINE, &four[..24]),
            (Type::CIRCLE, &four[..24]),
            (Type::PATH, &path),
            (Type::POLYGON, polygon),
        ] {
            truncations_fail(&ty, raw);
        }
        // Hostile counts: an error, no allocation per claimed point.
        for n in [i32::MAX, -1] {
            let mut raw = n.to_be_bytes().to_vec();
            raw.extend_from_slice(&four);
            assert!(decode(604, &raw).is_err());
        }
    }
}
