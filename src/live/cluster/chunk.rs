//! Cutting what nodes say to fit a bus's payloads (NOTIFY takes at most 8,000 bytes): text in
//! pieces measured as it will be escaped inside a JSON string, and presence entries in groups.

use crate::live::presence::Entries;

/// Bytes `c` takes inside a JSON string as serde_json writes it.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// Cuts `text` (at char boundaries) into pieces of at most `budget` bytes once escaped; at
/// least one piece, empty for an empty text.
pub fn split_escaped(text: &str, budget: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (at, c) in text.char_indices() {
        let len = escaped_len(c);
        if size + len > budget && at > start {
            pieces.push(&text[start..at]);
            start = at;
            size = 0;
        }
        size += len;
    }
    pieces.push(&text[start..]);
    pieces
}

/// Splits presence entries into groups of about `budget` bytes each, made into messages by
/// `make(entries, first)`. One key may hold more metas than fit in one (a session open in many
/// tabs): its metas are then spread over several groups, which receivers add up.
pub fn chunk_entries<M>(
    entries: Entries,
    budget: usize,
    make: impl Fn(Entries, bool) -> M,
) -> Vec<M> {
    let mut messages = Vec::new();
    let mut chunk = Entries::new();
    let mut size = 0;
    for (key, metas) in entries {
        for meta in metas {
            let bytes = serde_json::to_string(&meta)
                .expect("metas are plain data: they always serialize")
                .len()
                + key.len()
                + 8;
            if size + bytes > budget && !chunk.is_empty() {
                messages.push(make(std::mem::take(&mut chunk), messages.is_empty()));
                size = 0;
            }
            size += bytes;
            chunk.entry(key.clone()).or_default().push(meta);
        }
    }
    if !chunk.is_empty() || messages.is_empty() {
        messages.push(make(chunk, messages.is_empty()));
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fit_their_budget_once_escaped_and_add_up() {
        let text =
            "[\"1\",\"2\",\"cart:x\",\"cart\",{\"html\":\"<div id=\\\"cart\\\">é\u{1}</div>\"}]"
                .repeat(300);
        let pieces = split_escaped(&text, 500);
        assert!(pieces.len() > 1);
        for piece in &pieces {
            let escaped = serde_json::to_string(piece).unwrap_or_default();
            assert!(escaped.len() - 2 <= 500, "{}", escaped.len());
        }
        assert_eq!(pieces.concat(), text);
        assert_eq!(split_escaped("", 10), vec![""]);
    }
}
