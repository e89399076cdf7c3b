//! Token ids to text with a GGUF file's vocabulary (`tokenizer.ggml.tokens`), for GPT-2 style
//! byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`: Llama 3, Qwen, SmolLM2): every
//! byte is spelled as one printable character, so a token's text is its characters mapped
//! back to bytes. Special tokens (`<|im_start|>`) are spelled as themselves.

use std::collections::HashMap;

/// The character GPT-2's byte-level BPE spells byte `b` with: printable Latin-1 bytes are
/// themselves, the others are `U+0100` onwards in byte order.
fn byte_chars() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, 33..=126 | 161..=172 | 174..=255);
    let mut next = 256u32;
    let mut map = HashMap::with_capacity(256);
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or(char::REPLACEMENT_CHARACTER);
            next += 1;
            c
        };
        map.insert(c, b);
    }
    map
}

/// The text of `ids` in `tokens` (ids past the vocabulary are written as `<id>`).
pub fn detokenize(tokens: &[String], ids: &[usize]) -> String {
    let chars = byte_chars();
    let mut bytes = Vec::new();
    for &id in ids {
        match tokens.get(id) {
            Some(t) => {
                for c in t.chars() {
                    match chars.get(&c) {
                        Some(&b) => bytes.push(b),
                        None => {
                            let mut buf = [0u8; 4];
                            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                }
            }
            None => bytes.extend_from_slice(format!("<{id}>").as_bytes()),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_tokens_decode_to_text() {
        let tokens: Vec<String> = [
            "Hello",
            "\u{120}world",
            "\u{10A}",
            "<|im_end|>",
            "\u{C3}\u{A9}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // U+0120 is the space byte, U+010A the newline; "Ã©" are the bytes of "é".
        assert_eq!(
            detokenize(&tokens, &[0, 1, 2, 3, 4, 9]),
            "Hello world\n<|im_end|>é<9>"
        );
        assert_eq!(byte_chars().len(), 256);
    }
}
