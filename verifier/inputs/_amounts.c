/* verifier.inputs._amounts: decimal amount strings -> exact 128-bit base units, natively.
 *
 * Where it sits: the native half of verifier/inputs/liabilities_amounts.py, which uses it
 * when it is importable (and POR_NATIVE is not 0) and otherwise converts with Arrow's
 * regex and decimal casts; both give the same units and the same refusals (the tests
 * compare them). One call converts one Arrow string chunk in a single pass, with the GIL
 * released: no regex pass, no per-asset gather, no 256-bit intermediate column.
 *
 * It decides nothing about messages or their order: each row gets a status (ok, empty,
 * not a decimal number, more places than its asset allows, 2**128 or more in magnitude)
 * and the Python side names the first row refused in the order the fallback refuses.
 *
 * Exactness: the text is the number. Leading zeros of the whole part and trailing zeros
 * of the fraction are dropped; a non-zero digit beyond the asset's decimals is refused,
 * never rounded; the base units are accumulated in unsigned 128-bit arithmetic with
 * every multiply and add checked, so a value of 2**128 or more is refused, never wrapped.
 *
 * Every index is checked against the buffer it reads before the byte is read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;

/* Row statuses; liabilities_amounts.py holds the same numbers. */
enum { OK = 0, EMPTY = 1, SYNTAX = 2, PLACES = 3, BIG = 4, BIG_NEGATIVE = 5 };

#define MAX_DECIMALS 36
#define U128_MAX (~(u128)0)

static u128 pow10_[MAX_DECIMALS + 1];
static u128 mul_limit[MAX_DECIMALS + 1]; /* the largest u with u * 10**k < 2**128 */
/* 2**128 - 1 = 34028236692093846346337460743176821145|5: u * 10 + d fits while u is
 * below mul_limit[1], or equal to it with d <= 5 */

static void init_tables(void) {
    u128 p = 1;
    for (int k = 0; k <= MAX_DECIMALS; k++) {
        pow10_[k] = p;
        mul_limit[k] = U128_MAX / p;
        p *= 10;
    }
}

/* One amount: its status, and on OK its value as the low 128 bits of two's complement
 * (hi, lo) and whether it is below zero ("-0" is zero, not negative). */
static int parse_amount(const unsigned char *s, Py_ssize_t n, int decimals, uint64_t *hi,
                        uint64_t *lo, uint8_t *neg) {
    if (n == 0) return EMPTY;
    Py_ssize_t i = 0;
    int negative = s[0] == '-';
    i += negative;
    Py_ssize_t ws = i;
    while (i < n && (unsigned)(s[i] - '0') < 10) i++;
    Py_ssize_t we = i, fs = i, fe = i;
    int point = i < n && s[i] == '.';
    if (point) {
        fs = fe = ++i;
        while (i < n && (unsigned)(s[i] - '0') < 10) i++;
        fe = i;
    }
    /* AMOUNT_RE: ^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$ */
    if (i != n || (we == ws && fe == fs)) return SYNTAX;
    while (ws < we && s[ws] == '0') ws++;
    while (fe > fs && s[fe - 1] == '0') fe--;
    Py_ssize_t places = fe - fs;
    if (places > decimals) return PLACES;
    int big = negative ? BIG_NEGATIVE : BIG;
    /* base units have (we - ws) + decimals digits; 2**128 has 39 */
    if ((we - ws) + decimals > 39) return big;
    /* at most 39 digits: the first 19 fit a uint64 exactly, the rest are checked */
    const unsigned char *segment[2] = {s + ws, s + fs};
    Py_ssize_t length[2] = {we - ws, places};
    u128 units = 0;
    uint64_t fast = 0;
    int taken = 0;
    for (int g = 0; g < 2; g++) {
        for (Py_ssize_t k = 0; k < length[g]; k++) {
            unsigned digit = segment[g][k] - '0';
            if (taken < 19) {
                fast = fast * 10 + digit;
                if (++taken == 19) units = fast;
                continue;
            }
            if (units > mul_limit[1] || (units == mul_limit[1] && digit > 5)) return big;
            units = units * 10 + digit;
        }
    }
    if (taken < 19) units = fast;
    int pad = decimals - (int)places;
    if (units > mul_limit[pad]) return big;
    units *= pow10_[pad];
    *neg = negative && units != 0;
    if (*neg) units = (u128)0 - units;
    *hi = (uint64_t)(units >> 64);
    *lo = (uint64_t)units;
    return OK;
}

static int need(const Py_buffer *view, Py_ssize_t bytes, const char *what) {
    if (view->len < bytes) {
        PyErr_Format(PyExc_ValueError, "%s holds %zd bytes, needs %zd", what, view->len, bytes);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(convert_doc,
"convert(offsets, data, start, count, wide, asset_index, decimals, hi, lo, neg, status,\n"
"        totals) -> refused\n\n"
"Convert rows start..start+count of an Arrow string array (offsets: int32, or int64 when\n"
"wide; data: its bytes) into hi/lo (uint64: low 128 bits of two's complement), neg\n"
"(uint8) and status (uint8), one entry per row. asset_index (int16 per row) picks each\n"
"row's decimals (bytes, one per asset). totals (uint64, 3 per asset: lo, hi, overflowed)\n"
"accumulates the non-negative amounts across calls. Returns how many rows were refused.");

static PyObject *convert(PyObject *self, PyObject *args) {
    Py_buffer off, data, which, decs, hi_v, lo_v, neg_v, st_v, tot_v;
    Py_ssize_t start, count;
    int wide;
    if (!PyArg_ParseTuple(args, "y*y*nnpy*y*w*w*w*w*w*", &off, &data, &start, &count, &wide,
                          &which, &decs, &hi_v, &lo_v, &neg_v, &st_v, &tot_v))
        return NULL;
    Py_buffer *views[] = {&off, &data, &which, &decs, &hi_v, &lo_v, &neg_v, &st_v, &tot_v};
    Py_ssize_t refused = 0, bad_row = -1, width = wide ? 8 : 4;
    int failed = start < 0 || count < 0 || decs.len > 255;
    if (failed) PyErr_SetString(PyExc_ValueError, "negative start or count, or > 255 assets");
    failed = failed || need(&off, (start + count + 1) * width, "offsets") ||
             need(&which, count * 2, "asset_index") || need(&hi_v, count * 8, "hi") ||
             need(&lo_v, count * 8, "lo") || need(&neg_v, count, "neg") ||
             need(&st_v, count, "status") || need(&tot_v, decs.len * 24, "totals");
    for (Py_ssize_t a = 0; !failed && a < decs.len; a++) {
        if (((const uint8_t *)decs.buf)[a] > MAX_DECIMALS) {
            PyErr_SetString(PyExc_ValueError, "decimals above 36");
            failed = 1;
        }
    }
    if (!failed) {
        const unsigned char *offsets = off.buf, *bytes = data.buf;
        const uint8_t *decimals = decs.buf;
        uint64_t *hi = hi_v.buf, *lo = lo_v.buf, *totals = tot_v.buf;
        uint8_t *neg = neg_v.buf, *status = st_v.buf;
        Py_ssize_t assets = decs.len;
        Py_BEGIN_ALLOW_THREADS
        int64_t begin, end = 0;
        for (Py_ssize_t r = 0; r < count; r++) {
            int16_t a;
            memcpy(&a, (const char *)which.buf + 2 * r, 2);
            if (wide) {
                memcpy(&begin, offsets + 8 * (start + r), 8);
                memcpy(&end, offsets + 8 * (start + r + 1), 8);
            } else {
                int32_t b32, e32;
                memcpy(&b32, offsets + 4 * (start + r), 4);
                memcpy(&e32, offsets + 4 * (start + r + 1), 4);
                begin = b32;
                end = e32;
            }
            if (a < 0 || a >= assets || begin < 0 || end < begin || end > data.len) {
                bad_row = r;
                break;
            }
            hi[r] = lo[r] = 0;
            neg[r] = 0;
            status[r] = (uint8_t)parse_amount(bytes + begin, (Py_ssize_t)(end - begin),
                                              decimals[a], &hi[r], &lo[r], &neg[r]);
            if (status[r] != OK) {
                refused++;
            } else if (!neg[r]) {
                uint64_t *t = totals + 3 * a;
                u128 sum = ((u128)t[1] << 64 | t[0]), add = ((u128)hi[r] << 64 | lo[r]);
                if (sum + add < sum) t[2] = 1;
                sum += add;
                t[0] = (uint64_t)sum;
                t[1] = (uint64_t)(sum >> 64);
            }
        }
        Py_END_ALLOW_THREADS
        if (bad_row >= 0) {
            PyErr_Format(PyExc_ValueError,
                         "row %zd: asset index out of range or offsets outside the data",
                         bad_row);
            failed = 1;
        }
    }
    for (size_t v = 0; v < sizeof views / sizeof *views; v++) PyBuffer_Release(views[v]);
    if (failed) return NULL;
    return PyLong_FromSsize_t(refused);
}

static PyMethodDef methods[] = {
    {"convert", convert, METH_VARARGS, convert_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "verifier.inputs._amounts",
    "Decimal amount strings to exact 128-bit base units (see liabilities_amounts.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__amounts(void) {
    init_tables();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "MAX_DECIMALS", MAX_DECIMALS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
