/* attestations._sha256batch: batch SHA-256 and HMAC-SHA256 for the por-mst-v1 build.
 *
 * Where it sits: the native half of attestations/hashing.py, which chooses it when it is
 * importable and falls back to hashlib otherwise; both give the same bytes (the tests
 * compare them). One call hashes a whole batch: a level of nodes, a batch of leaves
 * (gathered by leaf order from the account columns in the same pass), the account hashes
 * or the salts of an account range. The GIL is released around every loop, so two
 * Python threads hash on two cores.
 *
 * Nothing here knows the tree format: the caller passes the tag byte and the row widths
 * (docs/spec/por-mst-v1.md and attestations/encoding.py own the byte layouts).
 *
 * Every length is checked against the buffers it indexes before any byte is read or
 * written: a short, oversized or misaligned buffer raises ValueError, never an overrun.
 */

/* libcrypto's low-level SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour
 * of EVP. We use them on purpose: measured on this project's 2-core machine (OpenSSL
 * 3.0, 161-byte node messages, 2M calls) they cost 128 ns a call against 154 ns for EVP
 * with a fetched digest and a reused context and 350 ns for EVP_sha256() per call; the
 * HMAC loop also copies the keyed inner/outer states, which SHA256_CTX makes a struct
 * copy. Silencing the warning here, and only here, is deliberate. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#define DIGEST 32
#define MAX_PARTS 8
#define MAX_PREFIX 64
#define HMAC_BLOCK 64
/* leaf_level reads three rows at random places per leaf; fetching them this many leaves
 * ahead hides the cache misses behind the hashing (measured: without it the one-pass
 * gather was slower than numpy's gathers followed by hash_rows). */
#define PREFETCH 8

/* ------------------------------------------------------------------ buffer helpers */

/* Release every buffer in views[0..n). */
static void release_all(Py_buffer *views, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) PyBuffer_Release(&views[i]);
}

/* Multiply two non-negative sizes; -1 on overflow. */
static Py_ssize_t mul_size(Py_ssize_t a, Py_ssize_t b) {
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > PY_SSIZE_T_MAX / a) return -1;
    return a * b;
}

/* Check an int64 offsets buffer of count + 1 entries against a data buffer of data_len
 * bytes: non-decreasing, first >= 0, last <= data_len. Read with memcpy, so a buffer at
 * any alignment is fine. Returns 0, or -1 with ValueError set. */
static int check_offsets(const Py_buffer *off, Py_ssize_t count, Py_ssize_t data_len) {
    if (off->len != (count + 1) * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_Format(PyExc_ValueError, "offsets hold %zd bytes, not 8 x (count + 1) = %zd",
                     off->len, (count + 1) * (Py_ssize_t)sizeof(int64_t));
        return -1;
    }
    const unsigned char *p = off->buf;
    int64_t previous;
    memcpy(&previous, p, sizeof previous);
    if (previous < 0) {
        PyErr_SetString(PyExc_ValueError, "offsets start below 0");
        return -1;
    }
    for (Py_ssize_t i = 1; i <= count; i++) {
        int64_t value;
        memcpy(&value, p + i * sizeof value, sizeof value);
        if (value < previous) {
            PyErr_Format(PyExc_ValueError, "offsets decrease at entry %zd", i);
            return -1;
        }
        previous = value;
    }
    if (previous > (int64_t)data_len) {
        PyErr_Format(PyExc_ValueError, "offsets end at %lld, beyond the %zd bytes of data",
                     (long long)previous, data_len);
        return -1;
    }
    return 0;
}

static int64_t offset_at(const Py_buffer *off, Py_ssize_t i) {
    int64_t value;
    memcpy(&value, (const unsigned char *)off->buf + i * sizeof value, sizeof value);
    return value;
}

/* ------------------------------------------------------------------ hash_rows */

PyDoc_STRVAR(hash_rows_doc,
"hash_rows(out, out_stride, count, prefix, buffers, widths)\n\n"
"For i in range(count): SHA-256 of prefix || buffers[0][i*w0:(i+1)*w0] || ... written to\n"
"out[i*out_stride : i*out_stride + 32]. len(buffers[k]) must be count * widths[k] and\n"
"len(out) count * out_stride exactly (out_stride >= 32). At most 8 buffers, prefix <= 64\n"
"bytes. Releases the GIL while hashing.");

static PyObject *hash_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *out_obj, *buffers, *widths;
    Py_ssize_t stride, count;
    Py_buffer prefix;
    if (!PyArg_ParseTuple(args, "Onny*OO", &out_obj, &stride, &count, &prefix, &buffers,
                          &widths))
        return NULL;
    Py_buffer out = {0};
    Py_buffer views[MAX_PARTS];
    Py_ssize_t width[MAX_PARTS];
    Py_ssize_t nviews = 0;
    PyObject *result = NULL;

    if (prefix.len > MAX_PREFIX) {
        PyErr_SetString(PyExc_ValueError, "prefix longer than 64 bytes");
        goto done;
    }
    if (count < 0 || stride < DIGEST) {
        PyErr_SetString(PyExc_ValueError, "count must be >= 0 and out_stride >= 32");
        goto done;
    }
    if (!PyTuple_Check(buffers) || !PyTuple_Check(widths) ||
        PyTuple_GET_SIZE(buffers) != PyTuple_GET_SIZE(widths) ||
        PyTuple_GET_SIZE(buffers) > MAX_PARTS) {
        PyErr_SetString(PyExc_ValueError,
                        "buffers and widths must be tuples of the same length (<= 8)");
        goto done;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) goto done;
    Py_ssize_t need = mul_size(count, stride);
    if (need < 0 || out.len != need) {
        PyErr_Format(PyExc_ValueError, "out holds %zd bytes, not count x out_stride", out.len);
        goto done;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(buffers); k++) {
        width[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(widths, k));
        if (width[k] == -1 && PyErr_Occurred()) goto done;
        if (width[k] < 0) {
            PyErr_SetString(PyExc_ValueError, "a width is negative");
            goto done;
        }
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(buffers, k), &views[k], PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        nviews = k + 1;
        Py_ssize_t len = mul_size(count, width[k]);
        if (len < 0 || views[k].len != len) {
            PyErr_Format(PyExc_ValueError, "buffer %zd holds %zd bytes, not count x %zd", k,
                         views[k].len, width[k]);
            goto done;
        }
    }
    {
        unsigned char *dst = out.buf;
        const unsigned char *pre = prefix.buf;
        size_t plen = (size_t)prefix.len;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < count; i++) {
            SHA256_CTX ctx;
            SHA256_Init(&ctx);
            if (plen) SHA256_Update(&ctx, pre, plen);
            for (Py_ssize_t k = 0; k < nviews; k++)
                SHA256_Update(&ctx, (const unsigned char *)views[k].buf + i * width[k],
                              (size_t)width[k]);
            SHA256_Final(dst + i * stride, &ctx);
        }
        Py_END_ALLOW_THREADS
    }
    result = Py_NewRef(Py_None);
done:
    release_all(views, nviews);
    if (out.obj) PyBuffer_Release(&out);
    PyBuffer_Release(&prefix);
    return result;
}

/* ------------------------------------------------------------------ hash_varlen */

PyDoc_STRVAR(hash_varlen_doc,
"hash_varlen(out, prefix, offsets, data)\n\n"
"For each of the count = len(offsets)/8 - 1 entries: SHA-256 of\n"
"prefix || data[offsets[i]:offsets[i+1]] into out[32*i : 32*i + 32]. offsets are native\n"
"int64, non-decreasing, within data; len(out) must be 32 x count. Releases the GIL.");

static PyObject *hash_varlen(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *out_obj;
    Py_buffer prefix, off, data;
    if (!PyArg_ParseTuple(args, "Oy*y*y*", &out_obj, &prefix, &off, &data)) return NULL;
    Py_buffer out = {0};
    PyObject *result = NULL;
    Py_ssize_t count = off.len / (Py_ssize_t)sizeof(int64_t) - 1;
    if (off.len % (Py_ssize_t)sizeof(int64_t) || count < 0) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold 8 x (count + 1) bytes");
        goto done;
    }
    if (check_offsets(&off, count, data.len) < 0) goto done;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) goto done;
    if (out.len != count * DIGEST) {
        PyErr_Format(PyExc_ValueError, "out holds %zd bytes, not 32 x %zd", out.len, count);
        goto done;
    }
    {
        unsigned char *dst = out.buf;
        const unsigned char *src = data.buf, *pre = prefix.buf;
        size_t plen = (size_t)prefix.len;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < count; i++) {
            int64_t a = offset_at(&off, i), b = offset_at(&off, i + 1);
            SHA256_CTX ctx;
            SHA256_Init(&ctx);
            if (plen) SHA256_Update(&ctx, pre, plen);
            SHA256_Update(&ctx, src + a, (size_t)(b - a));
            SHA256_Final(dst + i * DIGEST, &ctx);
        }
        Py_END_ALLOW_THREADS
    }
    result = Py_NewRef(Py_None);
done:
    if (out.obj) PyBuffer_Release(&out);
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&off);
    PyBuffer_Release(&data);
    return result;
}

/* ------------------------------------------------------------------ hmac_varlen */

PyDoc_STRVAR(hmac_varlen_doc,
"hmac_varlen(out, key, offsets, data, parts)\n\n"
"For each entry i (offsets as in hash_varlen) and p in range(parts):\n"
"HMAC-SHA256(key, data[offsets[i]:offsets[i+1]] || u32be(p)) into\n"
"out[32*(i*parts + p) : ...]; len(out) must be 32 x count x parts, 1 <= parts <= 2**16.\n"
"The keyed inner and outer states are computed once (RFC 2104). Releases the GIL.");

static PyObject *hmac_varlen(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *out_obj;
    Py_buffer key, off, data;
    Py_ssize_t parts;
    if (!PyArg_ParseTuple(args, "Oy*y*y*n", &out_obj, &key, &off, &data, &parts)) return NULL;
    Py_buffer out = {0};
    PyObject *result = NULL;
    Py_ssize_t count = off.len / (Py_ssize_t)sizeof(int64_t) - 1;
    if (parts < 1 || parts > 65536) {
        PyErr_SetString(PyExc_ValueError, "parts must be 1..65536");
        goto done;
    }
    if (off.len % (Py_ssize_t)sizeof(int64_t) || count < 0) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold 8 x (count + 1) bytes");
        goto done;
    }
    if (check_offsets(&off, count, data.len) < 0) goto done;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) goto done;
    Py_ssize_t need = mul_size(mul_size(count, parts), DIGEST);
    if (need < 0 || out.len != need) {
        PyErr_Format(PyExc_ValueError, "out holds %zd bytes, not 32 x count x parts", out.len);
        goto done;
    }
    {
        unsigned char block[HMAC_BLOCK] = {0}, pad[HMAC_BLOCK];
        if (key.len > HMAC_BLOCK) {
            SHA256(key.buf, (size_t)key.len, block);
        } else if (key.len) {
            memcpy(block, key.buf, (size_t)key.len);
        }
        SHA256_CTX inner, outer;
        for (int j = 0; j < HMAC_BLOCK; j++) pad[j] = block[j] ^ 0x36;
        SHA256_Init(&inner);
        SHA256_Update(&inner, pad, HMAC_BLOCK);
        for (int j = 0; j < HMAC_BLOCK; j++) pad[j] = block[j] ^ 0x5c;
        SHA256_Init(&outer);
        SHA256_Update(&outer, pad, HMAC_BLOCK);
        OPENSSL_cleanse(block, sizeof block);
        OPENSSL_cleanse(pad, sizeof pad);

        unsigned char *dst = out.buf;
        const unsigned char *src = data.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < count; i++) {
            int64_t a = offset_at(&off, i), b = offset_at(&off, i + 1);
            for (Py_ssize_t p = 0; p < parts; p++) {
                unsigned char suffix[4] = {(unsigned char)(p >> 24), (unsigned char)(p >> 16),
                                           (unsigned char)(p >> 8), (unsigned char)p};
                unsigned char mid[DIGEST];
                SHA256_CTX ctx = inner;
                SHA256_Update(&ctx, src + a, (size_t)(b - a));
                SHA256_Update(&ctx, suffix, sizeof suffix);
                SHA256_Final(mid, &ctx);
                ctx = outer;
                SHA256_Update(&ctx, mid, DIGEST);
                SHA256_Final(dst + (i * parts + p) * DIGEST, &ctx);
            }
        }
        Py_END_ALLOW_THREADS
        OPENSSL_cleanse(&inner, sizeof inner);
        OPENSSL_cleanse(&outer, sizeof outer);
    }
    result = Py_NewRef(Py_None);
done:
    if (out.obj) PyBuffer_Release(&out);
    PyBuffer_Release(&key);
    PyBuffer_Release(&off);
    PyBuffer_Release(&data);
    return result;
}

/* ------------------------------------------------------------------ node_level */

PyDoc_STRVAR(node_level_doc,
"node_level(out, records, parents, assets) -> int\n\n"
"One level up of por-mst-v1 records (hash || enc(sums), width 32 + 16 x assets): for each\n"
"parent i, out[i] = SHA-256(0x01 || left || right) || enc(left.sums + right.sums), with\n"
"left, right = records[2i], records[2i+1]. len(records) must be 2 x parents x width and\n"
"len(out) parents x width. Returns the first parent whose sum component reaches 2**128,\n"
"or -1 (that parent's sums are then wrapped: the caller refuses the level).");

static PyObject *node_level(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *out_obj;
    Py_buffer records;
    Py_ssize_t parents, assets;
    if (!PyArg_ParseTuple(args, "Oy*nn", &out_obj, &records, &parents, &assets)) return NULL;
    Py_buffer out = {0};
    PyObject *result = NULL;
    if (parents < 0 || assets < 0 || assets > 255) {
        PyErr_SetString(PyExc_ValueError, "parents must be >= 0 and assets 0..255");
        goto done;
    }
    Py_ssize_t width = DIGEST + 16 * assets;
    Py_ssize_t need = mul_size(parents, width);
    if (need < 0 || records.len / 2 != need || records.len % 2) {
        PyErr_Format(PyExc_ValueError, "records hold %zd bytes, not 2 x parents x %zd",
                     records.len, width);
        goto done;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) goto done;
    if (out.len != need) {
        PyErr_Format(PyExc_ValueError, "out holds %zd bytes, not parents x %zd", out.len, width);
        goto done;
    }
    Py_ssize_t first_overflow = -1;
    {
        const unsigned char *src = records.buf;
        unsigned char *dst = out.buf;
        static const unsigned char tag = 0x01;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < parents; i++) {
            const unsigned char *left = src + 2 * i * width, *right = left + width;
            unsigned char *parent = dst + i * width;
            SHA256_CTX ctx;
            SHA256_Init(&ctx);
            SHA256_Update(&ctx, &tag, 1);
            SHA256_Update(&ctx, left, (size_t)(2 * width));
            SHA256_Final(parent, &ctx);
            for (Py_ssize_t a = 0; a < assets; a++) {
                Py_ssize_t at = DIGEST + 16 * a;
                unsigned carry = 0;
                for (int j = 15; j >= 0; j--) { /* big-endian: last byte first */
                    unsigned sum = (unsigned)left[at + j] + right[at + j] + carry;
                    parent[at + j] = (unsigned char)sum;
                    carry = sum >> 8;
                }
                if (carry && first_overflow < 0) first_overflow = i;
            }
        }
        Py_END_ALLOW_THREADS
    }
    result = PyLong_FromSsize_t(first_overflow);
done:
    if (out.obj) PyBuffer_Release(&out);
    PyBuffer_Release(&records);
    return result;
}

/* ------------------------------------------------------------------ leaf_level */

PyDoc_STRVAR(leaf_level_doc,
"leaf_level(out, index, salts, hashes, balances, pad_salts, parts, assets)\n\n"
"Level-0 records of por-mst-v1 gathered and hashed in one pass. For each k, j = index[k]\n"
"(native int64): an account leaf when j < real = len(salts) / 32, written as\n"
"SHA-256(0x00 || salts[j] || hashes[j / parts] || balances[j]) || balances[j]; a padding\n"
"leaf when real <= j < real + len(pad_salts) / 32, written as\n"
"SHA-256(0x02 || pad_salts[j - real]) || zero sums. Rows: salts, hashes and pad_salts 32\n"
"bytes, balances 16 x assets bytes (enc(v)); len(hashes) must be 32 x real / parts,\n"
"len(out) len(index) / 8 x (32 + 16 x assets). An index out of range raises ValueError\n"
"(nothing is read outside the buffers). Releases the GIL.");

static PyObject *leaf_level(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *out_obj;
    Py_buffer index, salts, hashes, balances, pads;
    Py_ssize_t parts, assets;
    if (!PyArg_ParseTuple(args, "Oy*y*y*y*y*nn", &out_obj, &index, &salts, &hashes,
                          &balances, &pads, &parts, &assets))
        return NULL;
    Py_buffer out = {0};
    PyObject *result = NULL;
    Py_ssize_t count = index.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t real = salts.len / DIGEST, padding = pads.len / DIGEST;
    Py_ssize_t width = DIGEST + 16 * assets, enc = 16 * assets;
    if (parts < 1 || parts > 65536 || assets < 0 || assets > 255) {
        PyErr_SetString(PyExc_ValueError, "parts must be 1..65536 and assets 0..255");
        goto done;
    }
    if (index.len % (Py_ssize_t)sizeof(int64_t) || salts.len % DIGEST || pads.len % DIGEST ||
        real % parts || hashes.len != (real / parts) * DIGEST ||
        mul_size(real, enc) != balances.len) {
        PyErr_SetString(PyExc_ValueError,
                        "index, salts, hashes, balances or pad_salts have the wrong length");
        goto done;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) goto done;
    if (mul_size(count, width) != out.len) {
        PyErr_Format(PyExc_ValueError, "out holds %zd bytes, not %zd x %zd", out.len, count,
                     width);
        goto done;
    }
    Py_ssize_t bad = -1;
    {
        const unsigned char *idx = index.buf, *salt = salts.buf, *hash = hashes.buf;
        const unsigned char *bal = balances.buf, *pad = pads.buf;
        unsigned char *dst = out.buf;
        static const unsigned char leaf_tag = 0x00, pad_tag = 0x02;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < count; k++) {
            int64_t j;
            if (k + PREFETCH < count) { /* the rows are scattered: ask for them early */
                memcpy(&j, idx + (k + PREFETCH) * sizeof j, sizeof j);
                if (j >= 0 && j < real) {
                    __builtin_prefetch(salt + j * DIGEST);
                    __builtin_prefetch(hash + (j / parts) * DIGEST);
                    __builtin_prefetch(bal + j * enc);
                    __builtin_prefetch(bal + j * enc + enc - 1);
                } else if (j >= real && j - real < padding) {
                    __builtin_prefetch(pad + (j - real) * DIGEST);
                }
            }
            memcpy(&j, idx + k * sizeof j, sizeof j);
            unsigned char *record = dst + k * width;
            SHA256_CTX ctx;
            SHA256_Init(&ctx);
            if (j >= 0 && j < real) {
                SHA256_Update(&ctx, &leaf_tag, 1);
                SHA256_Update(&ctx, salt + j * DIGEST, DIGEST);
                SHA256_Update(&ctx, hash + (j / parts) * DIGEST, DIGEST);
                SHA256_Update(&ctx, bal + j * enc, (size_t)enc);
                SHA256_Final(record, &ctx);
                memcpy(record + DIGEST, bal + j * enc, (size_t)enc);
            } else if (j >= real && j - real < padding) {
                SHA256_Update(&ctx, &pad_tag, 1);
                SHA256_Update(&ctx, pad + (j - real) * DIGEST, DIGEST);
                SHA256_Final(record, &ctx);
                memset(record + DIGEST, 0, (size_t)enc);
            } else {
                bad = k;
                break;
            }
        }
        Py_END_ALLOW_THREADS
    }
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "index entry %zd is out of range", bad);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    if (out.obj) PyBuffer_Release(&out);
    PyBuffer_Release(&index);
    PyBuffer_Release(&salts);
    PyBuffer_Release(&hashes);
    PyBuffer_Release(&balances);
    PyBuffer_Release(&pads);
    return result;
}

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"hash_rows", hash_rows, METH_VARARGS, hash_rows_doc},
    {"hash_varlen", hash_varlen, METH_VARARGS, hash_varlen_doc},
    {"hmac_varlen", hmac_varlen, METH_VARARGS, hmac_varlen_doc},
    {"node_level", node_level, METH_VARARGS, node_level_doc},
    {"leaf_level", leaf_level, METH_VARARGS, leaf_level_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "attestations._sha256batch",
    "Batch SHA-256 / HMAC-SHA256 over libcrypto, GIL released (see attestations/hashing.py).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__sha256batch(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddStringConstant(m, "OPENSSL_VERSION", OPENSSL_VERSION_TEXT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
