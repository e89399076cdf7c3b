//! Text to token ids and back, for prompts and generated text: a model folder's
//! `tokenizer.json` (HuggingFace `tokenizers`), or a byte-level BPE tokenizer built from a GGUF
//! file's vocabulary and merges (`tokenizer.ggml.model = "gpt2"`: SmolLM2, Qwen2/2.5/3,
//! Llama 3). The GGUF form uses GPT-2's pre-tokenizer split, which can cut some texts
//! differently from a model's own pattern (the ids are still a valid spelling of the text).

use std::path::{Path, PathBuf};

use thiserror::Error;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::Tokenizer;

use crate::gguf::{GgufFile, Value};

/// The file a model folder's tokenizer is read from.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

#[derive(Debug, Error)]
pub enum TokenizerError {
    #[error("{path}: {detail}")]
    Load { path: PathBuf, detail: String },
    #[error("{path} has no tokenizer (no {TOKENIZER_FILE}, no GGUF vocabulary and merges); give token ids instead")]
    Missing { path: PathBuf },
    #[error(
        "{path}: GGUF tokenizer model {model:?} is not supported (byte-level BPE \"gpt2\" only)"
    )]
    Unsupported { path: PathBuf, model: String },
    #[error("encoding the text failed: {0}")]
    Encode(String),
    #[error("decoding the ids failed: {0}")]
    Decode(String),
    #[error("the text has no tokens")]
    Empty,
}

/// A tokenizer for prompts and generated text.
pub struct TextTokenizer(Tokenizer);

/// The ids of `text`, with or without the special tokens; refused if there are none.
fn ids_of(t: &Tokenizer, text: &str, special: bool) -> Result<Vec<usize>, TokenizerError> {
    let enc = t
        .encode(text, special)
        .map_err(|e| TokenizerError::Encode(e.to_string()))?;
    let ids: Vec<usize> = enc.get_ids().iter().map(|&i| i as usize).collect();
    if ids.is_empty() {
        return Err(TokenizerError::Empty);
    }
    Ok(ids)
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextTokenizer({} tokens)", self.0.get_vocab_size(true))
    }
}

impl TextTokenizer {
    /// The tokenizer of a model: `DIR/tokenizer.json` for a folder, the vocabulary and merges
    /// of a `.gguf` file.
    pub fn for_model(path: &Path) -> Result<Self, TokenizerError> {
        if path.is_dir() {
            let file = path.join(TOKENIZER_FILE);
            if !file.is_file() {
                return Err(TokenizerError::Missing { path: path.into() });
            }
            return Self::from_json_file(&file);
        }
        let gguf = GgufFile::open(path).map_err(|e| TokenizerError::Load {
            path: path.into(),
            detail: e.to_string(),
        })?;
        Self::from_gguf(&gguf)
    }

    /// A `tokenizer.json` file.
    pub fn from_json_file(file: &Path) -> Result<Self, TokenizerError> {
        Tokenizer::from_file(file)
            .map(Self)
            .map_err(|e| TokenizerError::Load {
                path: file.into(),
                detail: e.to_string(),
            })
    }

    /// Byte-level BPE from `tokenizer.ggml.tokens` and `tokenizer.ggml.merges`.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, TokenizerError> {
        let path = &file.path;
        if let Some(Value::String(model)) = file.metadata.get("tokenizer.ggml.model") {
            if model != "gpt2" {
                return Err(TokenizerError::Unsupported {
                    path: path.clone(),
                    model: model.clone(),
                });
            }
        }
        let (Some(tokens), Some(merges)) = (&file.tokens, &file.merges) else {
            return Err(TokenizerError::Missing { path: path.clone() });
        };
        Self::byte_level_bpe(tokens, merges).map_err(|detail| TokenizerError::Load {
            path: path.clone(),
            detail,
        })
    }

    /// A byte-level BPE tokenizer: `tokens` by id, `merges` as `"left right"` by rank.
    pub fn byte_level_bpe(tokens: &[String], merges: &[String]) -> Result<Self, String> {
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, t)| (t.clone(), id as u32))
            .collect();
        let merges = merges
            .iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| format!("merge {m:?} is not two tokens"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| e.to_string())?;
        let mut t = Tokenizer::new(bpe);
        t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        t.with_decoder(Some(ByteLevelDecoder::default()));
        Ok(Self(t))
    }

    /// Writes the tokenizer as a `tokenizer.json`.
    pub fn save(&self, file: &Path) -> Result<(), TokenizerError> {
        self.0.save(file, false).map_err(|e| TokenizerError::Load {
            path: file.into(),
            detail: e.to_string(),
        })
    }

    /// The token ids of `text` (no special tokens added); refused if there are none.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, TokenizerError> {
        ids_of(&self.0, text, false)
    }

    /// The token ids of `text` with the model's special tokens added (BERT's `[CLS]` and
    /// `[SEP]`), without the padding a `tokenizer.json` may ask for (sentence-transformers
    /// folders pad to 128: padded positions would need their mask); refused if there are none.
    pub fn encode_with_special(&self, text: &str) -> Result<Vec<usize>, TokenizerError> {
        let mut t = self.0.clone();
        t.with_padding(None);
        ids_of(&t, text, true)
    }

    /// The text of `ids`.
    pub fn decode(&self, ids: &[usize]) -> Result<String, TokenizerError> {
        let ids: Vec<u32> = ids
            .iter()
            .map(|&i| u32::try_from(i).map_err(|_| TokenizerError::Decode(format!("id {i}"))))
            .collect::<Result<_, _>>()?;
        self.0
            .decode(&ids, false)
            .map_err(|e| TokenizerError::Decode(e.to_string()))
    }
}

/// GPT-2's byte-level alphabet: the symbol standing for each byte (printable bytes as
/// themselves, the others as `U+0100 + n` in byte order), as a vocabulary of 256 tokens.
pub fn byte_symbols() -> Vec<String> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next = 0u32;
    (0u8..=255)
        .map(|b| {
            let c = if printable(b) {
                char::from(b)
            } else {
                next += 1;
                char::from_u32(0xFF + next).unwrap_or(char::REPLACEMENT_CHARACTER)
            };
            c.to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte-level vocabulary: the 256 byte symbols, then merged pieces.
    fn tiny() -> TextTokenizer {
        let mut tokens = byte_symbols();
        tokens.extend(["he", "ll", "hell", "hello", "\u{120}w", "\u{120}wo"].map(String::from));
        let merges = ["h e", "l l", "he ll", "hell o", "\u{120} w", "\u{120}w o"].map(String::from);
        TextTokenizer::byte_level_bpe(&tokens, &merges).unwrap()
    }

    #[test]
    fn byte_symbols_are_gpt2s() {
        let s = byte_symbols();
        assert_eq!(s[b' ' as usize], "\u{120}");
        assert_eq!(s[b'\n' as usize], "\u{10A}");
        assert_eq!(s[b'A' as usize], "A");
        assert_eq!(s[0xAD], "\u{143}");
        let t = TextTokenizer::byte_level_bpe(&s, &[]).unwrap();
        let text = "caf\u{e9} \n\t\u{1F600}";
        assert_eq!(t.decode(&t.encode(text).unwrap()).unwrap(), text);
    }

    #[test]
    fn gguf_style_bpe_round_trips_text() {
        let t = tiny();
        let ids = t.encode("hello world").unwrap();
        assert_eq!(t.decode(&ids).unwrap(), "hello world");
        // "hello" merges into one token; " wo" into one.
        assert_eq!(ids.len(), 1 + 1 + 3, "{ids:?}");
        assert!(matches!(t.encode(""), Err(TokenizerError::Empty)));
    }

    #[test]
    fn saved_tokenizer_json_loads_and_agrees() {
        let t = tiny();
        let dir = std::env::temp_dir().join(format!("stwo-ml-tok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        t.save(&dir.join(TOKENIZER_FILE)).unwrap();
        let back = TextTokenizer::for_model(&dir).unwrap();
        assert_eq!(
            back.encode("hello, hello").unwrap(),
            t.encode("hello, hello").unwrap()
        );
        std::fs::write(dir.join(TOKENIZER_FILE), "{not json").unwrap();
        assert!(matches!(
            TextTokenizer::for_model(&dir),
            Err(TokenizerError::Load { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            TextTokenizer::for_model(&dir),
            Err(TokenizerError::Load { .. } | TokenizerError::Missing { .. })
        ));
    }
}
