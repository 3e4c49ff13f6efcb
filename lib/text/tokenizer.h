/* tokenizer.h - the open_clip 2.22 SimpleTokenizer (spec §2.1-§2.5), internal. */
#ifndef VC_TEXT_TOKENIZER_H
#define VC_TEXT_TOKENIZER_H

#include "../core/internal.h"

#define VC_TOKEN_SOT 49406
#define VC_TOKEN_EOT 49407
#define VC_TEXT_N_MERGES 48894           /* merges file lines 1..48894 (spec §2.3) */
#define VC_TEXT_VOCAB_SIZE (512 + VC_TEXT_N_MERGES + 2)
#define VC_PROMPT_MAX_BYTES 65536        /* longest prompt accepted (LIMIT_EXCEEDED above) */

/* The merges file compiled into the library (vocab_embed.c). */
VC_HIDDEN extern const unsigned char vc_text_vocab_gz[];
VC_HIDDEN extern const unsigned char vc_text_vocab_gz_end[];

/* Loads the merges: vocab_path (gzip or plain text) or, when NULL, the built-in
 * copy. *out owned, free with vc_tokenizer_free. */
VC_HIDDEN vc_status vc_tokenizer_create(vc_context *ctx, const char *vocab_path, vc_tokenizer **out);
VC_HIDDEN void vc_tokenizer_free(vc_tokenizer *tok);
/* ctx->tokenizer, created on first use from ctx->vocab_path, $VIDEOCRAFTER_VOCAB
 * or the built-in merges, in that order. */
VC_HIDDEN vc_status vc_context_tokenizer(vc_context *ctx, vc_tokenizer **out);

/* 77 ids of one prompt: SOT, BPE ids, EOT, zero padding (spec §2.5). */
VC_HIDDEN vc_status vc_tokenizer_encode(vc_context *ctx, vc_tokenizer *tok, const char *utf8,
                                        int64_t tokens[VC_TEXT_CONTEXT_LENGTH]);

/* BPE of one pre-tokenized word given as UTF-8 bytes (spec §2.3-§2.4): writes
 * up to cap ids, returns how many the word has (may exceed cap); -1 on OOM. */
VC_HIDDEN int64_t vc_tokenizer_bpe(vc_tokenizer *tok, const unsigned char *bytes, size_t n, int32_t *ids,
                                   size_t cap);
/* Merge table look-up, for tests: rank and result id of the pair (a, b). */
VC_HIDDEN bool vc_tokenizer_merge(const vc_tokenizer *tok, int32_t a, int32_t b, int32_t *rank,
                                  int32_t *result);
/* Vocabulary id of byte b as a word-inner (final = false) or word-final symbol. */
VC_HIDDEN int32_t vc_tokenizer_byte_id(const vc_tokenizer *tok, unsigned char b, bool final);

/* Cleaning (clean.c, spec §2.1): UTF-8 prompt -> cleaned, lower-cased code
 * points (*out malloc'd, free()). Invalid UTF-8 -> VC_STATUS_BAD_TEXT. */
VC_HIDDEN vc_status vc_text_clean(vc_context *ctx, const char *utf8, size_t len, uint32_t **out, size_t *n_out);
/* ftfy 6.3 fix_encoding on one segment (ftfy_encoding.c): *out malloc'd;
 * false on out of memory. vc_ftfy_is_bad is ftfy's badness test. */
VC_HIDDEN bool vc_ftfy_fix_encoding(const uint32_t *s, size_t n, uint32_t **out, size_t *n_out);
VC_HIDDEN bool vc_ftfy_is_bad(const uint32_t *s, size_t n);
/* Pre-tokenizer character classes (spec §2.2). */
VC_HIDDEN bool vc_text_is_space(uint32_t cp);    /* regex \s: Unicode White_Space */
VC_HIDDEN int vc_text_class(uint32_t cp);        /* 0 space, 1 letter, 2 number, 3 other, 4 none */

/* One strict UTF-8 sequence at s[0] (s[0] >= 0x80, len bytes available): no
 * overlongs, surrogates or code points above U+10FFFF, the rule of Python's
 * bytes.decode('utf-8'). Returns the sequence length (2..4), or 0 if invalid. */
static inline unsigned vc_utf8_decode_seq(const unsigned char *s, size_t len, uint32_t *cp_out)
{
    unsigned c = s[0], need, min;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (len <= need) return 0;
    for (unsigned k = 1; k <= need; k++) {
        unsigned cc = s[k];
        if ((cc & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    *cp_out = cp;
    return need + 1;
}

#endif
