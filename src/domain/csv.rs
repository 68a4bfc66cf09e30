//! CSV as the store writes it (RFC 4180, CRLF lines), safe to open in a spreadsheet: a cell that
//! a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage
//! return, OWASP's list for CSV injection) is prefixed with `'`, so it shows as the text it is.
//! Every CSV the store writes, on the web or from the command line, goes through [`row`].

use std::borrow::Cow;

/// Characters that make a spreadsheet read a cell as a formula when they open it.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One cell: neutralised if it would be a formula, quoted if it holds a separator (`,`, or `;`
/// and tab, which some spreadsheets split on), a quote or a line break.
pub fn cell(text: &str) -> Cow<'_, str> {
    let text: Cow<'_, str> = if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    };
    if text.contains([',', ';', '\t', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        text
    }
}

/// One line of cells, `\r\n` included.
pub fn row<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, text) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&cell(text));
    }
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text() {
        assert_eq!(
            cell("=HYPERLINK(\"http://evil.example\",\"click\")"),
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\""
        );
        assert_eq!(cell("+1+1"), "'+1+1");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\t=1"), "\"'\t=1\"");
        assert_eq!(cell("\r=1"), "\"'\r=1\"");
        assert_eq!(cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
    }

    #[test]
    fn plain_cells_stay_as_they_are_and_separators_are_quoted() {
        assert_eq!(cell("buyer@example.com"), "buyer@example.com");
        assert_eq!(cell("12000"), "12000");
        assert_eq!(cell(""), "");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("a;=1"), "\"a;=1\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn rows_join_cells_and_end_with_crlf() {
        assert_eq!(row(["1", "=x", "a,b"]), "1,'=x,\"a,b\"\r\n");
        assert_eq!(row([]), "\r\n");
    }
}
