/* verifier.inputs._ids: the account id column dictionary-encoded natively.
 *
 * Where it sits: the native half of verifier/inputs/liabilities_columns.py::dictionary,
 * which uses it for the account ids when it is importable (and POR_NATIVE is not 0) and
 * otherwise calls Arrow's dictionary_encode. Both give the same result, which the tests
 * compare: the distinct values in first-occurrence order and, for every row, the int32
 * position of its value among them (the reader names refused rows in that order).
 *
 * Why: at 1M accounts x 3 assets Arrow's dictionary_encode (after combine_chunks, a copy
 * of the whole column) is the longest step of the read, on one core. An `Encoder` is fed
 * the Arrow string chunks one by one, as they are (string or large_string offsets, a
 * chunk's own offset honoured), with the GIL released while the amount parser runs on the
 * other core; it writes each row's index and, at the end, builds the distinct values'
 * buffers itself (3-14 ms at 1M ids, against 11-56 ms for Arrow's take of their first
 * rows from the column).
 *
 * The table: open addressing with linear probing, 64-bit slots holding a 32-bit hash tag
 * and the value's index + 1, at most half full, on huge pages where the kernel gives them;
 * the slots of a batch of rows are prefetched before any of them is probed (the table
 * does not fit the cache), and a value's pointer and length share one cache line. In the
 * 1M x 3 build (the amount parser beside it) the last two took the step from 0.19-0.21 s
 * to 0.09-0.22 s (0.09 when the kernel has huge pages at hand).
 *
 * Hostile input: every offset is checked against the buffer it indexes before a byte is
 * read; more distinct values than `limit` (at most 2**31 - 1, the largest int32 index)
 * raise OverflowError instead of wrapping. The hash is keyed: its keys come from a seed
 * the caller draws from os.urandom for every column, and are never written anywhere, so a
 * file crafted to make many ids collide (a quadratic build) works only for someone who
 * knows that seed. The hash is a wyhash-style multiply-mix, fast but not a cryptographic
 * PRF; it decides speed only: equal hashes are always confirmed by comparing the bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

typedef unsigned __int128 u128;

#define BATCH 64 /* rows hashed and prefetched before any is probed (16: 0.08 s, 64: 0.06) */
#define TAG 0xFFFFFFFF00000000ull
#define MIN_SLOTS 1024

static inline uint64_t mum(uint64_t a, uint64_t b) {
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t load8(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t load4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* n bytes at p, keyed by k[0..2]. Reads only p[0..n-1]; short tails are read as two
 * overlapping words (the length is mixed in, so equal reads mean equal strings). */
static inline uint64_t hash_bytes(const uint8_t *p, int64_t n, const uint64_t *k) {
    uint64_t h = k[0] ^ mum((uint64_t)n ^ k[1], k[2]), a, b;
    if (n <= 16) {
        if (n >= 8) {
            a = load8(p);
            b = load8(p + n - 8);
        } else if (n >= 4) {
            a = load4(p);
            b = load4(p + n - 4);
        } else if (n > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        const uint8_t *q = p;
        int64_t left = n;
        while (left > 16) {
            h = mum(load8(q) ^ k[1], load8(q + 8) ^ h);
            q += 16;
            left -= 16;
        }
        a = load8(p + n - 16);
        b = load8(p + n - 8);
    }
    return mum(mum(a ^ k[1], b ^ h) ^ k[2], h ^ k[0]);
}

typedef struct {
    const uint8_t *ptr;   /* a distinct value's bytes (inside a held data buffer) */
    int64_t len;          /* ... and its length: one cache line for both */
} Entry;

/* The slots: anonymous memory, on huge pages where the kernel allows it (madvise mode):
 * the probes land at random in tens of MB, and 4 KiB pages miss the TLB on nearly all. */
static uint64_t *slots_alloc(uint64_t count) {
    size_t bytes = (size_t)count * sizeof(uint64_t);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= (2u << 20)) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

static void slots_free(uint64_t *slots, uint64_t count) {
    if (slots) munmap(slots, (size_t)count * sizeof(uint64_t));
}

typedef struct {
    PyObject_HEAD
    uint64_t *slots;      /* tag | (index + 1); 0 = empty */
    uint64_t mask;        /* slots - 1 */
    int64_t distinct, cap, limit;
    Entry *entry;         /* per distinct value: where its bytes are */
    uint64_t *hash;       /* ... its full hash, so that growing re-reads no string */
    uint64_t key[3];
    Py_buffer *held;      /* the data buffers `ptr` points into, released on dealloc */
    Py_ssize_t nheld, capheld;
    int busy, broken;
} Encoder;

static int grow_values(Encoder *t) {
    int64_t cap = t->cap * 2;
    Entry *entry = realloc(t->entry, (size_t)cap * sizeof *entry);
    if (entry) t->entry = entry;
    uint64_t *hash = realloc(t->hash, (size_t)cap * sizeof *hash);
    if (hash) t->hash = hash;
    if (!entry || !hash) return -1;
    t->cap = cap;
    return 0;
}

static int grow_slots(Encoder *t) {
    uint64_t size = (t->mask + 1) * 2, mask = size - 1;
    uint64_t *slots = slots_alloc(size);
    if (!slots) return -1;
    for (int64_t u = 0; u < t->distinct; u++) {
        uint64_t h = t->hash[u], i = h & mask;
        while (slots[i]) i = (i + 1) & mask;
        slots[i] = (h & TAG) | (uint64_t)(u + 1);
    }
    slots_free(t->slots, t->mask + 1);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

enum { DONE = 0, BAD_OFFSETS = 1, NO_MEMORY = 2, TOO_MANY = 3 };

/* Rows [0, count) of one chunk: offsets (int32, or int64 when wide) already shifted to
 * the chunk's first row. On BAD_OFFSETS *bad is the row. Runs without the GIL. */
static int encode(Encoder *t, const uint8_t *offsets, int wide, const uint8_t *data,
                  int64_t data_len, int64_t count, int32_t *out, int64_t *bad) {
    uint64_t hs[BATCH];
    int64_t begin[BATCH], end[BATCH];
    for (int64_t s = 0; s < count; s += BATCH) {
        int64_t e = s + BATCH < count ? s + BATCH : count;
        for (int64_t r = s; r < e; r++) {
            int64_t b, f;
            if (wide) {
                memcpy(&b, offsets + 8 * r, 8);
                memcpy(&f, offsets + 8 * (r + 1), 8);
            } else {
                int32_t b32, f32;
                memcpy(&b32, offsets + 4 * r, 4);
                memcpy(&f32, offsets + 4 * (r + 1), 4);
                b = b32;
                f = f32;
            }
            if (b < 0 || f < b || f > data_len) {
                *bad = r;
                return BAD_OFFSETS;
            }
            begin[r - s] = b;
            end[r - s] = f;
            hs[r - s] = hash_bytes(data + b, f - b, t->key);
            __builtin_prefetch(&t->slots[hs[r - s] & t->mask]);
        }
        for (int64_t r = s; r < e; r++) {
            uint64_t h = hs[r - s], tag = h & TAG, i = h & t->mask;
            const uint8_t *p = data + begin[r - s];
            int64_t n = end[r - s] - begin[r - s];
            for (;;) {
                uint64_t v = t->slots[i];
                if (!v) {
                    if (t->distinct >= t->limit) return TOO_MANY;
                    if (t->distinct >= t->cap && grow_values(t) < 0) return NO_MEMORY;
                    int64_t u = t->distinct++;
                    t->entry[u].ptr = p;
                    t->entry[u].len = n;
                    t->hash[u] = h;
                    t->slots[i] = tag | (uint64_t)(u + 1);
                    out[r] = (int32_t)u;
                    if ((uint64_t)t->distinct * 2 > t->mask + 1) {
                        if (grow_slots(t) < 0) return NO_MEMORY;
                    }
                    break;
                }
                if ((v & TAG) == tag) {
                    int64_t u = (int64_t)(v & 0xFFFFFFFFull) - 1;
                    const Entry *known = &t->entry[u];
                    if (known->len == n && memcmp(known->ptr, p, (size_t)n) == 0) {
                        out[r] = (int32_t)u;
                        break;
                    }
                }
                i = (i + 1) & t->mask;
            }
        }
    }
    return DONE;
}

static uint64_t splitmix(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static PyObject *encoder_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *names[] = {"expected", "seed", "limit", NULL};
    long long expected, limit = INT32_MAX;
    unsigned long long seed;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "LK|L", names, &expected, &seed, &limit))
        return NULL;
    if (expected < 0 || limit < 0 || limit > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "expected must be >= 0, limit in 0..2**31-1");
        return NULL;
    }
    if (expected > limit) expected = limit;
    Encoder *t = (Encoder *)type->tp_alloc(type, 0);
    if (t == NULL) return NULL;
    uint64_t size = MIN_SLOTS;
    while (size < (uint64_t)expected * 2) size <<= 1;
    t->mask = size - 1;
    t->limit = limit;
    t->cap = expected > 16 ? expected : 16;
    t->slots = slots_alloc(size);
    t->entry = malloc((size_t)t->cap * sizeof *t->entry);
    t->hash = malloc((size_t)t->cap * sizeof *t->hash);
    uint64_t state = seed;
    for (int i = 0; i < 3; i++) t->key[i] = splitmix(&state) | 1;
    if (!t->slots || !t->entry || !t->hash) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    return (PyObject *)t;
}

static void encoder_dealloc(Encoder *t) {
    slots_free(t->slots, t->mask + 1);
    free(t->entry);
    free(t->hash);
    for (Py_ssize_t i = 0; i < t->nheld; i++) PyBuffer_Release(&t->held[i]);
    PyMem_Free(t->held);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/* A buffer of native-order 4-byte signed integers, aligned: what `out` must be. */
static int native_int32(const Py_buffer *b) {
    if (b->itemsize != 4 || ((uintptr_t)b->buf & 3) != 0) return 0;
    const char *f = b->format == NULL ? "B" : b->format;
    const uint16_t probe = 1;
    int little = *(const uint8_t *)&probe == 1;
    if (*f == '@' || *f == '=' || (*f == '<' && little) || (*f == '>' && !little)) f++;
    return strcmp(f, "i") == 0 || strcmp(f, "l") == 0;
}

static int usable(Encoder *t) {
    if (t->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Encoder used by two threads at once");
        return 0;
    }
    if (t->broken) {
        PyErr_SetString(PyExc_RuntimeError, "Encoder unusable after an earlier error");
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(add_doc,
"add(offsets, data, start, count, wide, out) -> distinct\n\n"
"Encode rows start..start+count of an Arrow string chunk (offsets: int32, or int64 when\n"
"wide; data: its bytes, kept alive by the Encoder from now on) into out (int32, one per\n"
"row). Returns the number of distinct values so far. ValueError for offsets outside the\n"
"data, OverflowError past the limit; either leaves the Encoder unusable.");

static PyObject *encoder_add(Encoder *t, PyObject *args) {
    Py_buffer off, data, out;
    Py_ssize_t start, count;
    int wide;
    PyObject *out_obj;
    if (!usable(t)) return NULL;
    if (!PyArg_ParseTuple(args, "y*y*nnpO", &off, &data, &start, &count, &wide, &out_obj))
        return NULL;
    /* with its format, so that only an int32 array is written into */
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&off);
        PyBuffer_Release(&data);
        if (PyErr_ExceptionMatches(PyExc_BufferError)) { /* read-only or not contiguous */
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "out must be a writable contiguous int32 array");
        }
        return NULL;
    }
    Py_ssize_t width = wide ? 8 : 4;
    const char *problem = NULL;
    if (start < 0 || count < 0) problem = "negative start or count";
    else if (off.len / width - 1 < start || off.len / width - 1 - start < count)
        problem = "offsets shorter than the rows"; /* written not to overflow */
    else if (out.len / 4 < count) problem = "out shorter than the rows";
    else if (!native_int32(&out)) problem = "out must be an aligned native int32 array";
    if (problem == NULL && t->nheld == t->capheld) {
        Py_ssize_t cap = t->capheld ? t->capheld * 2 : 16;
        Py_buffer *held = PyMem_Realloc(t->held, (size_t)cap * sizeof *held);
        if (held == NULL) {
            PyBuffer_Release(&off);
            PyBuffer_Release(&data);
            PyBuffer_Release(&out);
            return PyErr_NoMemory();
        }
        t->held = held;
        t->capheld = cap;
    }
    if (problem != NULL) {
        PyBuffer_Release(&off);
        PyBuffer_Release(&data);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, problem);
        return NULL;
    }
    int64_t bad = -1;
    int status;
    t->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    status = encode(t, (const uint8_t *)off.buf + width * start, wide, data.buf, data.len,
                    count, out.buf, &bad);
    Py_END_ALLOW_THREADS
    t->busy = 0;
    t->held[t->nheld++] = data; /* values inserted point into it */
    PyBuffer_Release(&off);
    PyBuffer_Release(&out);
    if (status == DONE) return PyLong_FromLongLong(t->distinct);
    t->broken = 1;
    if (status == BAD_OFFSETS)
        PyErr_Format(PyExc_ValueError, "row %lld: offsets outside the data", (long long)bad);
    else if (status == TOO_MANY)
        PyErr_Format(PyExc_OverflowError, "more than %lld distinct values",
                     (long long)t->limit);
    else
        PyErr_NoMemory();
    return NULL;
}

PyDoc_STRVAR(values_doc,
"values(wide) -> (offsets, data)\n\n"
"The distinct values as the buffers of an Arrow string array (int32 offsets) or, when\n"
"wide, large_string (int64). OverflowError when int32 offsets cannot hold their bytes.");

static PyObject *encoder_values(Encoder *t, PyObject *args) {
    int wide;
    if (!usable(t)) return NULL;
    if (!PyArg_ParseTuple(args, "p", &wide)) return NULL;
    int64_t total = 0;
    for (int64_t u = 0; u < t->distinct; u++) total += t->entry[u].len;
    if (!wide && total > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "distinct values over 2**31 - 1 bytes");
        return NULL;
    }
    Py_ssize_t width = wide ? 8 : 4;
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (t->distinct + 1) * width);
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (offsets == NULL || bytes == NULL) {
        Py_XDECREF(offsets);
        Py_XDECREF(bytes);
        return NULL;
    }
    char *o = PyBytes_AS_STRING(offsets), *d = PyBytes_AS_STRING(bytes);
    t->busy = 1; /* an add() on another thread meanwhile would grow what is being copied */
    Py_BEGIN_ALLOW_THREADS
    int64_t at = 0;
    for (int64_t u = 0; u <= t->distinct; u++) {
        if (wide) {
            memcpy(o + 8 * u, &at, 8);
        } else {
            int32_t at32 = (int32_t)at;
            memcpy(o + 4 * u, &at32, 4);
        }
        if (u == t->distinct) break;
        memcpy(d + at, t->entry[u].ptr, (size_t)t->entry[u].len);
        at += t->entry[u].len;
    }
    Py_END_ALLOW_THREADS
    t->busy = 0;
    return Py_BuildValue("(NN)", offsets, bytes);
}

static PyObject *encoder_distinct(Encoder *t, void *closure) {
    return PyLong_FromLongLong(t->distinct);
}

static PyMethodDef encoder_methods[] = {
    {"add", (PyCFunction)encoder_add, METH_VARARGS, add_doc},
    {"values", (PyCFunction)encoder_values, METH_VARARGS, values_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef encoder_getset[] = {
    {"distinct", (getter)encoder_distinct, NULL, "distinct values so far", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(encoder_doc,
"Encoder(expected, seed, limit=2**31-1)\n\n"
"A dictionary encoder for one column: sized for `expected` distinct values (it grows),\n"
"its hash keyed by `seed` (draw it from os.urandom), refusing more than `limit` values.");

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "verifier.inputs._ids.Encoder",
    .tp_basicsize = sizeof(Encoder),
    .tp_dealloc = (destructor)encoder_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = encoder_doc,
    .tp_methods = encoder_methods,
    .tp_getset = encoder_getset,
    .tp_new = encoder_new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "verifier.inputs._ids",
    "Native dictionary encoding of the account ids (see liabilities_columns.py).", -1,
    NULL,
};

PyMODINIT_FUNC PyInit__ids(void) {
    if (PyType_Ready(&EncoderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&EncoderType);
    if (PyModule_AddObject(m, "Encoder", (PyObject *)&EncoderType) < 0 ||
        PyModule_AddIntConstant(m, "LIMIT", INT32_MAX) < 0) {
        Py_DECREF(&EncoderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
