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

#endif
