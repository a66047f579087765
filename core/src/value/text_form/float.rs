//! Floats as `float8out`/`float4out` print them.

/// Appends `f` as PostgreSQL prints a float with `extra_float_digits > 0`
/// (the default since PostgreSQL 12): the shortest digits that read back
/// exactly, in exponential form (`1e+20`, `1.5e-07`) when the decimal
/// exponent is below -4 or at least 15 (6 for `float4`), and `NaN`,
/// `Infinity`, `-Infinity`, `-0`.
pub(crate) fn push_float(out: &mut String, f: f64, float4: bool) {
    if f.is_nan() {
        return out.push_str("NaN");
    }
    if f.is_infinite() {
        return out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if f == 0.0 {
        return out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
    }
    let sci = ryu(f, float4);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mantissa = match mantissa.strip_prefix('-') {
        Some(m) => {
            out.push('-');
            m
        }
        None => mantissa,
    };
    if exp < -4 || exp >= if float4 { 6 } else { 15 } {
        out.push_str(mantissa);
        out.push_str(if exp < 0 { "e-" } else { "e+" });
        if exp.unsigned_abs() < 10 {
            out.push('0');
        }
        out.push_str(&exp.unsigned_abs().to_string());
        return;
    }
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', exp.unsigned_abs() as usize - 1));
        out.push_str(&digits);
    } else {
        let int = exp as usize + 1;
        match digits.get(int..) {
            Some(frac) if !frac.is_empty() => {
                out.push_str(&digits[..int]);
                out.push('.');
                out.push_str(frac);
            }
            _ => {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int.saturating_sub(digits.len())));
            }
        }
    }
}

/// The float m·2^e, and whether it is a power of two whose gap below is
/// half the gap above.
type Parts = (u64, i32, bool);

fn parts(f: f64, float4: bool) -> Parts {
    let (bits, mantissa_bits, min_exp) = match float4 {
        true => (u64::from((f as f32).to_bits()), 23, -149),
        false => (f.to_bits(), 52, -1074),
    };
    let exp = (bits >> mantissa_bits) & if float4 { 0xff } else { 0x7ff };
    let frac = bits & ((1 << mantissa_bits) - 1);
    match exp {
        0 => (frac, min_exp, false),
        _ => (
            frac | 1 << mantissa_bits,
            min_exp - 1 + exp as i32,
            frac == 0 && exp > 1,
        ),
    }
}

/// The digits PostgreSQL's Ryu prints, in `{:e}` form: the value rounded
/// (ties to even) to the fewest digits that read back exactly, never a
/// decimal lying exactly halfway to a neighbouring float (PostgreSQL builds
/// Ryu without `STRICTLY_SHORTEST`). Rust's `{:e}` accepts such midpoints and
/// rounds ties up, so its digit count is only where the search starts.
/// `float4` goes through the f64 routines (every f32 is an f64), which keeps
/// the f32 parsing and printing code out of the binary.
/// A `float4` as the number its text reads as (`1.1`, not the f32's exact
/// 1.100000023841858), as drivers that parse the text form give it; this is
/// how [`crate::Value::Float`] holds a `float4`.
///
/// ```
/// assert_eq!(edgepg_core::float4_value(1.1), 1.1);
/// assert_eq!(edgepg_core::float4_value(0.25), 0.25);
/// assert!(edgepg_core::float4_value(f32::NAN).is_nan());
/// ```
pub fn float4_value(f: f32) -> f64 {
    let wide = f64::from(f);
    if !wide.is_finite() || wide == 0.0 {
        return wide;
    }
    read_back(&ryu(wide, true))
}

fn ryu(f: f64, float4: bool) -> String {
    let own = parts(f, float4);
    let (start, max) = match float4 {
        // A candidate that reads back as an f64 lying exactly on an f32
        // midpoint is refused: which side the decimal is on is lost.
        true => (1, 9),
        false => (shortest_digits(f).max(1), 17),
    };
    let round = |digits: usize| rounded(f, digits);
    let exact = |s: &str| match read_back(s) {
        p if float4 => p as f32 == f as f32 && !binary_midpoint(p, own),
        p => p == f,
    };
    (start..=max)
        .map(round)
        .find(|s| exact(s) && !decimal_midpoint(s, own))
        .unwrap_or_else(|| round(max))
}

/// How many significant digits the shortest decimal that reads back as `f`
/// has (`f` finite, not zero).
#[cfg(not(target_arch = "wasm32"))]
fn shortest_digits(f: f64) -> usize {
    format!("{f:e}")
        .bytes()
        .take_while(|&b| b != b'e')
        .filter(u8::is_ascii_digit)
        .count()
}

/// `f` rounded to `digits` significant digits, ties to even, in `{:e}` form.
#[cfg(not(target_arch = "wasm32"))]
fn rounded(f: f64, digits: usize) -> String {
    format!("{:.*e}", digits - 1, f)
}

/// On wasm32 by `Number.prototype.toString`, which prints the shortest
/// digits that read back (ECMAScript's Number::toString). Rust's float
/// printing (Grisu with a Dragon fallback, about 11 KB of code and tables)
/// stays out of the module (issue 19).
#[cfg(target_arch = "wasm32")]
fn shortest_digits(f: f64) -> usize {
    shortest(&js_string(f)).1.len()
}

#[cfg(target_arch = "wasm32")]
fn js_string(f: f64) -> String {
    js_sys::Number::from(f)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// A finite number as JavaScript prints it (`-0.00012`, `123.45`, `1e+21`,
/// `1.5e-7`) as its sign, its significant digits (none for zero) and the
/// decimal exponent of the first: `(true, "12", -4)` for `-0.00012`.
#[cfg(any(target_arch = "wasm32", test))]
fn shortest(js: &str) -> (bool, String, i32) {
    let (negative, s) = match js.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, js),
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    let int_len = mantissa.find('.').unwrap_or(mantissa.len());
    let all: String = mantissa.chars().filter(|&c| c != '.').collect();
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0').to_string();
    let exp = int_len as i32 - 1 - leading as i32 + exp.parse::<i32>().unwrap_or(0);
    (negative, digits, exp)
}

/// `f` as Rust's `{:?}` prints it (finite): the shortest digits, in
/// exponential form (`1e16`, `1.5e-7`) when |f| is below 1e-4 or at least
/// 1e16, else with at least one fractional digit (`1.0`, `-0.0`).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn debug_float(f: f64) -> String {
    format!("{f:?}")
}

/// On wasm32 from the digits `Number.prototype.toString` prints, laid out
/// as Rust's `{:?}` would (see [`shortest_digits`]).
#[cfg(target_arch = "wasm32")]
pub(crate) fn debug_float(f: f64) -> String {
    let (_, digits, exp) = shortest(&js_string(f));
    debug_layout(f.is_sign_negative(), &digits, exp)
}

#[cfg(any(target_arch = "wasm32", test))]
fn debug_layout(negative: bool, digits: &str, exp: i32) -> String {
    let mut out = String::from(if negative { "-" } else { "" });
    let digits = if digits.is_empty() { "0" } else { digits };
    let zero = digits == "0";
    if !zero && !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push_str(&exp.to_string());
    } else if zero || exp >= 0 {
        let int = if zero { 1 } else { exp as usize + 1 };
        let (head, frac) = digits.split_at(int.min(digits.len()));
        out.push_str(head);
        out.extend(std::iter::repeat_n('0', int - head.len()));
        out.push('.');
        out.push_str(if frac.is_empty() { "0" } else { frac });
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', exp.unsigned_abs() as usize - 1));
        out.push_str(digits);
    }
    out
}

/// On wasm32 by `Number.prototype.toExponential`, which rounds an exact
/// tie away from zero: a tie (the digit after is a 5 that ends `f`'s exact
/// decimal expansion) is settled here to the even neighbour, as Rust's `{:e}`
/// and PostgreSQL's Ryu do.
#[cfg(target_arch = "wasm32")]
fn rounded(f: f64, digits: usize) -> String {
    let exponential = |fraction: usize| -> String {
        let n = js_sys::Number::from(f);
        let s = String::from(n.to_exponential(fraction as u8).unwrap_or_default());
        // `1.5e+7` as Rust writes it: `1.5e7`.
        s.replacen("e+", "e", 1)
    };
    let up = exponential(digits - 1);
    let longer = exponential(digits);
    let (mantissa, exp) = longer.split_once('e').unwrap_or((&longer, "0"));
    let tie = mantissa.ends_with('5') && decimal_equals(&longer, parts(f, false));
    let before = mantissa[..mantissa.len() - 1].trim_end_matches('.');
    match tie && before.bytes().last().is_some_and(|d| (d - b'0') % 2 == 0) {
        true => format!("{before}e{exp}"),
        false => up,
    }
}

/// A decimal Rust printed (`{:.*e}`), read back as the nearest f64.
#[cfg(not(target_arch = "wasm32"))]
fn read_back(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

/// On wasm32 by the JavaScript engine's `parseFloat`, correctly rounded for
/// up to 20 significant digits (these have at most 17): Rust's parser
/// brings a 10 KB table of powers of five that gzip cannot shrink, 18 KB of
/// the gzipped module with its code (issue 19).
#[cfg(target_arch = "wasm32")]
fn read_back(s: &str) -> f64 {
    js_sys::parse_float(s)
}

/// Whether a·2^a2 (a > 0) equals k·2^p (k odd) taken `scale` times (odd).
fn equals(a: u128, a2: i64, scale: u128, (k, p): (u64, i32)) -> bool {
    let z = a.trailing_zeros();
    a >> z == u128::from(k) * scale && a2 + i64::from(z) == i64::from(p)
}

/// Whether a·2^a2 (a > 0) equals a midpoint between the float `own` and a
/// neighbour, k·2^p with k odd, taken `scale` times.
fn hits_midpoint(a: u128, a2: i64, scale: u128, (m, e, narrow_below): Parts) -> bool {
    let below = match narrow_below {
        true => (4 * m - 1, e - 2),
        false => (2 * m - 1, e - 1),
    };
    [(2 * m + 1, e - 1), below]
        .into_iter()
        .any(|kp| equals(a, a2, scale, kp))
}

/// Whether the f64 `p` is exactly a midpoint of the f32 `own`.
fn binary_midpoint(p: f64, own: Parts) -> bool {
    let (m, e, _) = parts(p, false);
    m != 0 && hits_midpoint(m.into(), e.into(), 1, own)
}

/// The decimal `sci` (`{:e}` form, sign ignored), d·10^q, as a·2^a2 over an
/// odd `scale`: `(a, a2, scale)`; `None` for zero and for |q| > 27.
fn decimal(sci: &str) -> Option<(u128, i64, u128)> {
    let (mantissa, exp) = sci.trim_start_matches('-').split_once('e')?;
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    let (Ok(d), Ok(exp)) = (digits.parse::<u64>(), exp.parse::<i32>()) else {
        return None;
    };
    // d·10^q = k·2^p needs 5^|q| to divide d or k (both below 2^57): |q| ≤ 27
    // suffices, and keeps every product below 2^120.
    let q = exp - (digits.len() as i32 - 1);
    if d == 0 || q.unsigned_abs() > 27 {
        return None;
    }
    let five = 5u128.pow(q.unsigned_abs());
    Some(match q >= 0 {
        // d·5^q·2^q = k·2^p
        true => (u128::from(d) * five, q.into(), 1),
        // d·2^q = k·5^-q·2^p
        false => (d.into(), q.into(), five),
    })
}

/// Whether the decimal `sci` (`{:e}` form) is exactly a midpoint of `own`.
fn decimal_midpoint(sci: &str, own: Parts) -> bool {
    decimal(sci).is_some_and(|(a, a2, scale)| hits_midpoint(a, a2, scale, own))
}

/// Whether the decimal `sci` (`{:e}` form) is exactly the float `own`.
#[cfg(target_arch = "wasm32")]
fn decimal_equals(sci: &str, (m, e, _): Parts) -> bool {
    let z = m.trailing_zeros();
    m != 0
        && decimal(sci).is_some_and(|(a, a2, scale)| equals(a, a2, scale, (m >> z, e + z as i32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64, float4: bool) -> String {
        let mut s = String::new();
        push_float(&mut s, f, float4);
        s
    }

    #[test]
    fn debug_layout_as_rust_prints_it() {
        for f in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            1.5,
            100.0,
            123.456,
            1e-4,
            1.2e-4,
            9.99e-5,
            1e15,
            9999999999999998.0,
            1e16,
            1.5e16,
            1e21,
            1.5e-7,
            -2.5e-300,
            5e-324,
            f64::MAX,
            123456789012345.6,
            0.00012,
            1.3948654250235363e15,
        ] {
            let sci = format!("{f:e}");
            let (mantissa, exp) = sci.split_once('e').unwrap();
            let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
            let digits = digits.trim_end_matches('0');
            let exp = if f == 0.0 { 0 } else { exp.parse().unwrap() };
            assert_eq!(
                debug_layout(f.is_sign_negative(), digits, exp),
                format!("{f:?}")
            );
        }
    }

    #[test]
    fn javascript_number_strings() {
        for (js, parts) in [
            ("-0.00012", (true, "12", -4)),
            ("123.45", (false, "12345", 2)),
            ("1000", (false, "1", 3)),
            ("1e+21", (false, "1", 21)),
            ("1.5e-7", (false, "15", -7)),
            ("0", (false, "", -1)),
            ("5e-324", (false, "5", -324)),
        ] {
            let (negative, digits, exp) = shortest(js);
            assert_eq!((negative, digits.as_str(), exp), parts, "{js}");
        }
    }

    #[test]
    fn floats_as_postgres_prints_them() {
        for (f, text) in [
            (1e20, "1e+20"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (123456789012345.6, "123456789012345.6"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (-0.5, "-0.5"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (0.0, "0"),
            (100.0, "100"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (1e300, "1e+300"),
            (-1.5e-307, "-1.5e-307"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1, "0.1"),
            // Halfway between two 17-digit candidates: the even one, as Ryu.
            (1.3948654250235363e15, "1.3948654250235362e+15"),
            (-1.3948654250235363e15, "-1.3948654250235362e+15"),
            // 5.9199409e19 is exactly halfway to the next float: Ryu refuses it.
            (5.9199409e19, "5.9199408999999996e+19"),
        ] {
            assert_eq!(float(f, false), text, "{f:e}");
        }
        for (f, text) in [
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1e-5, "1e-05"),
            (0.1, "0.1"),
            (3.4028235e38, "3.4028235e+38"),
            // As the server prints these float4 values.
            (16777216.0, "1.6777216e+07"),
            (1e-45, "1e-45"),
            (7e-45, "7e-45"),
            (1.17549435e-38, "1.1754944e-38"),
            (0.3, "0.3"),
            (-0.3, "-0.3"),
        ] {
            assert_eq!(float((f as f32).into(), true), text, "{f:e}");
        }
    }
}
