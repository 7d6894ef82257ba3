/* xgboost.c: the "xgboost" predictor plugin: a model saved by XGBoost as JSON or UBJSON, run
 * with XGBoost's C API, one in-place prediction per batch (see README.md). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xgboost/c_api.h>

#include "symtask/plugin.h"

#define XGB_MODEL_KEY "sml.predictor.model"
#define XGB_SEED_MODEL_KEY "sml.kstream.model.b64file"
#define XGB_FEATURES_KEY "sml.predictor.features"
#define XGB_THREADS_KEY "sml.predictor.threads"
#define XGB_THREADS_MAX 1024

/* Normal prediction (type 0: probabilities for binary:logistic and multi:softprob) with every
 * tree, NaN for missing. XGBoost 1.7 requires "cache_id" (and "missing") for in-place
 * prediction: without them it fails with "Invalid cast, from Null to Integer". */
#define XGB_PREDICT_CONFIG                                                                         \
    "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"                    \
    "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define XGB_FLOAT_TYPESTR ">f4"
#else
#define XGB_FLOAT_TYPESTR "<f4"
#endif

/* What the outputs are made of, by objective. */
typedef enum xgb_kind {
    XGB_KIND_VALUE,    /* prediction = what XGBoost predicts (reg:*, multi:softmax, others) */
    XGB_KIND_BINARY,   /* binary:logistic: prediction = class 0/1, probability of class 1 */
    XGB_KIND_SOFTPROB, /* multi:softprob: prediction = argmax, probability.K per class */
} xgb_kind_t;

typedef struct xgb {
    const symtask_host_t *host;
    BoosterHandle booster;
    xgb_kind_t kind;
    char objective[64]; /* for the log */
    size_t n_features;
    char **features;
    size_t n_outputs;
    char **outputs;
    symtask_column_t *columns; /* the features, then the outputs, all numbers */
    size_t per_row; /* values XGBoost predicts per row: 1, or the classes of multi:softprob */
    float *x;       /* the batch as 32-bit floats, x_rows rows; reused from batch to batch */
    size_t x_rows;
} xgb_t;

static const symtask_option_t xgb_options[] = {
    {XGB_MODEL_KEY, SYMTASK_OPTION_PATH, NULL, 0,
     "Path of a model saved by XGBoost's save_model: a .json (JSON) or .ubj (UBJSON) file."},
    {XGB_SEED_MODEL_KEY, SYMTASK_OPTION_PATH, NULL, 0,
     "The SymetryML name for the model file's path, read when sml.predictor.model is not set "
     "(a path to the same .json or .ubj file, not base64)."},
    {XGB_FEATURES_KEY, SYMTASK_OPTION_LIST, NULL, 0,
     "The model's features in training order; required when the model has no feature names, "
     "else it must equal them."},
    {XGB_THREADS_KEY, SYMTASK_OPTION_INT, "1", 0,
     "Threads XGBoost predicts a batch with (1 to 1024)."},
    {NULL},
};

static void xgb_strings_free(char **strings, size_t n)
{
    size_t i;

    for (i = 0; strings != NULL && i < n; i++)
        free(strings[i]);
    free(strings);
}

static void xgb_free(xgb_t *xgb)
{
    if (xgb == NULL)
        return;
    if (xgb->booster != NULL)
        XGBoosterFree(xgb->booster);
    xgb_strings_free(xgb->features, xgb->n_features);
    xgb_strings_free(xgb->outputs, xgb->n_outputs);
    free(xgb->columns);
    free(xgb->x);
    free(xgb);
}

/* XGBoost's last error on one line of printable ASCII (it may quote the model's bytes):
 * without the time, the source location, the quoted input and the stack trace it adds
 * ("[15:10:42] ./src/common/json.cc:407: Expecting: ..., around character position: 2\n
 * {"learner"\n ~^~~~\nStack trace: ..."). */
static void xgb_last_error(char *out, size_t out_size)
{
    const char *e = XGBGetLastError(), *end, *colon, *cut;
    size_t o = 0;
    int space = 0;

    if (e == NULL)
        e = "";
    if (e[0] == '[' && (end = strstr(e, "] ")) != NULL)
        e = end + 2;
    colon = strstr(e, ": ");
    if (colon != NULL && memchr(e, ' ', (size_t)(colon - e)) == NULL &&
        memchr(e, ':', (size_t)(colon - e)) != NULL)
        e = colon + 2;
    end = strstr(e, "Stack trace:");
    if (end == NULL)
        end = e + strlen(e);
    cut = strstr(e, "around character position: ");
    if (cut != NULL && cut < end) {
        cut += strlen("around character position: ");
        while (*cut >= '0' && *cut <= '9')
            cut++;
        end = cut;
    }
    for (; e < end && o + 1 < out_size; e++) {
        unsigned char c = (unsigned char)*e;

        if (c <= ' ' || c >= 0x7f) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < out_size)
            out[o++] = ' ';
        space = 0;
        out[o++] = (char)c;
    }
    if (o == 0)
        snprintf(out, out_size, "unknown error");
    else
        out[o] = '\0';
}

static int xgb_has_extension(const char *path, const char *ext)
{
    size_t len = strlen(path), n = strlen(ext);

    return len > n && strcasecmp(path + len - n, ext) == 0 && path[len - n - 1] != '/';
}

/* Checks the file's name and first byte before XGBoost reads it, whose messages for these
 * cases ("Check failed: str[0] == '{' (h vs. {)") would not say what to do. Sets *@hint to
 * what to add when XGBoost fails: a hint when the content looks like the other format. */
static int xgb_model_check_file(const char *path, const char **hint, char *why, size_t why_size)
{
    unsigned char head[2];
    size_t n;
    FILE *f;
    int ubj = xgb_has_extension(path, ".ubj");

    /* XGBoost picks the format by the name: .json and .ubj (in any case), anything else its
     * deprecated binary format. */
    if (!ubj && !xgb_has_extension(path, ".json")) {
        snprintf(why, why_size,
                 "the name must end in .json (JSON) or .ubj (UBJSON), the formats XGBoost's "
                 "save_model writes for those names: save the model as model.json or model.ubj");
        return -1;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, why_size, "cannot be opened: %s", strerror(errno));
        return -1;
    }
    n = fread(head, 1, sizeof(head), f);
    fclose(f);
    if (n == 0 || head[0] != '{') {
        snprintf(why, why_size,
                 "%s, not a model saved by XGBoost as JSON or UBJSON (which starts with '{')",
                 n == 0 ? "is empty" : "does not start with '{'");
        return -1;
    }
    /* JSON text goes on with a quote or a space; UBJSON with a type letter. */
    *hint = "";
    if (n == 2 && ubj && (head[1] == '"' || head[1] <= ' '))
        *hint = " (the file holds JSON text: name it .json)";
    else if (n == 2 && !ubj && head[1] > ' ' && head[1] != '"' && head[1] != '}')
        *hint = " (the file looks like UBJSON: name it .ubj)";
    return 0;
}

/* The number in the string member @key of @obj (XGBoost writes its config values as
 * strings), or -1. */
static long xgb_config_long(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    char *end;
    long v;

    if (s == NULL)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        return -1;
    return v;
}

/* Element @i of the JSON array @a as an integer; -2 (never a valid index) when it is not one. */
static json_int_t xgb_tree_int(const json_t *a, size_t i)
{
    const json_t *v = json_array_get(a, i);
    return json_is_integer(v) ? json_integer_value(v) : -2;
}

/* Checks tree @t of @n_features-feature model @tree: its arrays describe the same nodes,
 * every split node leads to two nodes not reached before (so the walk from the root ends at
 * a leaf), every split reads a feature of the row, every categorical split's categories lie
 * within the tree's list. */
static int xgb_tree_check(const json_t *tree, size_t t, size_t n_features, char *why,
                          size_t why_size)
{
    static const char *const per_node[] = {"right_children", "split_indices", "split_conditions",
                                           "default_left"};
    const json_t *left = json_object_get(tree, "left_children");
    const json_t *right = json_object_get(tree, "right_children");
    const json_t *split = json_object_get(tree, "split_indices");
    size_t n = json_array_size(left), top = 0, i;
    size_t *stack;
    unsigned char *seen;
    int rc = -1;

    if (n == 0) {
        snprintf(why, why_size, "tree %zu has no nodes", t);
        return -1;
    }
    for (i = 0; i < sizeof(per_node) / sizeof(per_node[0]); i++) {
        if (json_array_size(json_object_get(tree, per_node[i])) != n) {
            snprintf(why, why_size,
                     "tree %zu: %s does not have one entry for each of its %zu nodes (a damaged "
                     "model file)",
                     t, per_node[i], n);
            return -1;
        }
    }
    stack = malloc(n * sizeof(*stack));
    seen = calloc(n, 1);
    if (stack == NULL || seen == NULL) {
        snprintf(why, why_size, "out of memory checking the trees");
        goto out;
    }
    stack[top++] = 0;
    seen[0] = 1;
    while (top > 0) {
        size_t node = stack[--top];
        json_int_t l = xgb_tree_int(left, node), r = xgb_tree_int(right, node), f;

        if (l == -1 && r == -1)
            continue; /* a leaf */
        if (l < 1 || r < 1 || (size_t)l >= n || (size_t)r >= n || l == r || seen[l] || seen[r]) {
            snprintf(why, why_size,
                     "tree %zu, node %zu: children %" JSON_INTEGER_FORMAT
                     " and %" JSON_INTEGER_FORMAT " are not two other nodes of its %zu "
                     "(a damaged model file)",
                     t, node, l, r, n);
            goto out;
        }
        f = xgb_tree_int(split, node);
        if (f < 0 || (size_t)f >= n_features) {
            snprintf(why, why_size,
                     "tree %zu, node %zu: splits on feature %" JSON_INTEGER_FORMAT
                     " of a model that reads %zu (a damaged model file)",
                     t, node, f, n_features);
            goto out;
        }
        seen[l] = seen[r] = 1;
        stack[top++] = (size_t)l; /* each node is pushed once: n entries suffice */
        stack[top++] = (size_t)r;
    }

    /* Categorical splits: node k's categories are categories[segment, segment + size). */
    const json_t *cats = json_object_get(tree, "categories");
    const json_t *nodes = json_object_get(tree, "categories_nodes");
    const json_t *segments = json_object_get(tree, "categories_segments");
    const json_t *sizes = json_object_get(tree, "categories_sizes");
    size_t k, n_cat_nodes = json_array_size(nodes);
    if (json_array_size(segments) != n_cat_nodes || json_array_size(sizes) != n_cat_nodes) {
        snprintf(why, why_size,
                 "tree %zu: its categorical splits are not described consistently "
                 "(a damaged model file)",
                 t);
        goto out;
    }
    for (k = 0; k < n_cat_nodes; k++) {
        json_int_t node = xgb_tree_int(nodes, k), seg = xgb_tree_int(segments, k),
                   size = xgb_tree_int(sizes, k);
        if (node < 0 || (size_t)node >= n || seg < 0 || size < 0 ||
            (size_t)seg > json_array_size(cats) ||
            (size_t)size > json_array_size(cats) - (size_t)seg) {
            snprintf(why, why_size,
                     "tree %zu: categorical split %zu lies outside the tree (a damaged model file)",
                     t, k);
            goto out;
        }
    }
    rc = 0;
out:
    free(stack);
    free(seen);
    return rc;
}

/* XGBoost writes NaN and the infinities as bare NaN, Infinity and -Infinity, which are not
 * JSON: blanks them to 0 in @text (outside strings) so that jansson reads the rest. The
 * tree check reads only integers, so no value it needs changes. */
static void xgb_json_tame(char *text, size_t len)
{
    static const char *const words[] = {"-Infinity", "Infinity", "NaN"};
    int in_string = 0;
    size_t i, w;

    for (i = 0; i < len; i++) {
        if (in_string) {
            if (text[i] == '\\')
                i++;
            else if (text[i] == '"')
                in_string = 0;
            continue;
        }
        if (text[i] == '"') {
            in_string = 1;
            continue;
        }
        for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
            size_t n = strlen(words[w]);
            if (len - i >= n && memcmp(text + i, words[w], n) == 0) {
                memset(text + i, ' ', n);
                text[i] = '0';
                i += n - 1;
                break;
            }
        }
    }
}

/* XGBoost does not check the trees of a model: a child index out of range, a cycle, a split
 * on a feature beyond the row crash or hang the worker when it predicts, and categories out
 * of range already when it loads. Checks the trees of the model whose JSON text is @text
 * (@len bytes, changed: see xgb_json_tame) for @n_features features, or, when @n_features
 * is 0, for the number the text gives. Returns 1 when the text is not a model this check
 * can read (XGBoost's loader then says what is wrong), 0 when the trees are sound, -1 with
 * @why when they are not. */
static int xgb_model_check_trees(char *text, size_t len, size_t n_features, char *why,
                                 size_t why_size)
{
    json_t *model, *learner, *booster, *trees, *tree;
    size_t t;
    int rc = 0;

    xgb_json_tame(text, len);
    model = json_loadb(text, len, 0, NULL);
    learner = json_object_get(model, "learner");
    booster = json_object_get(learner, "gradient_booster");
    if (json_object_get(booster, "gbtree") != NULL) /* dart wraps a gbtree */
        booster = json_object_get(booster, "gbtree");
    trees = json_object_get(json_object_get(booster, "model"), "trees");
    if (n_features == 0) {
        long n = xgb_config_long(json_object_get(learner, "learner_model_param"), "num_feature");
        n_features = n > 0 ? (size_t)n : 0;
    }
    if (!json_is_array(trees) || n_features == 0)
        rc = 1;
    json_array_foreach (trees, t, tree) {
        if (rc == 0 && xgb_tree_check(tree, t, n_features, why, why_size) != 0)
            rc = -1;
    }
    json_decref(model);
    return rc;
}

/* xgb_model_check_trees() on a JSON model file, before XGBoost loads it. */
static int xgb_model_check_json_file(const char *path, char *why, size_t why_size)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 1;

    if (f == NULL)
        return 1; /* XGBoost's loader says why */
    len = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (len > 0)
        rc = xgb_model_check_trees(text, (size_t)len, 0, why, why_size);
    free(text);
    return rc;
}

/* xgb_model_check_trees() on a model XGBoost has loaded from UBJSON, through XGBoost's JSON
 * form of it: a damaged UBJSON file can still crash XGBoost's loader (we read no UBJSON),
 * but not its predictions. */
static int xgb_model_check_loaded(xgb_t *xgb, size_t n_features, char *why, size_t why_size)
{
    const char *buf;
    char *copy;
    bst_ulong len;
    int rc;

    if (XGBoosterSaveModelToBuffer(xgb->booster, "{\"format\": \"json\"}", &len, &buf) != 0) {
        xgb_last_error(why, why_size);
        return -1;
    }
    copy = malloc(len);
    if (copy == NULL) {
        snprintf(why, why_size, "out of memory checking the trees");
        return -1;
    }
    memcpy(copy, buf, len);
    rc = xgb_model_check_trees(copy, len, n_features, why, why_size);
    free(copy);
    if (rc == 1)
        snprintf(why, why_size, "XGBoost's JSON form of the model has no trees to check");
    return rc != 0 ? -1 : 0;
}

/* Reads the objective and the number of classes from XGBoost's configuration of the loaded
 * model, and sets the kind and the outputs. */
static int xgb_model_read_config(xgb_t *xgb, char *why, size_t why_size)
{
    const char *str, *objective, *booster;
    bst_ulong len;
    json_t *config = NULL, *learner, *model_param;
    long num_class, num_target;
    size_t i;
    json_error_t jerr;

    if (XGBoosterSaveJsonConfig(xgb->booster, &len, &str) != 0) {
        xgb_last_error(why, why_size);
        return -1;
    }
    config = json_loadb(str, len, 0, &jerr);
    learner = json_object_get(config, "learner");
    model_param = json_object_get(learner, "learner_model_param");
    objective = json_string_value(json_object_get(json_object_get(learner, "objective"), "name"));
    booster =
        json_string_value(json_object_get(json_object_get(learner, "gradient_booster"), "name"));
    num_class = xgb_config_long(model_param, "num_class");
    num_target = xgb_config_long(model_param, "num_target");
    if (objective == NULL || booster == NULL || num_class < 0 || num_target < 0) {
        snprintf(why, why_size,
                 "XGBoost's configuration of the model lacks its objective, "
                 "booster or number of classes");
        goto error;
    }
    /* XGBoost 1.7 predicts in place with trees only. */
    if (strcmp(booster, "gbtree") != 0 && strcmp(booster, "dart") != 0) {
        snprintf(why, why_size, "booster %.32s is not supported: use gbtree or dart", booster);
        goto error;
    }
    if (num_target > 1) {
        snprintf(why, why_size, "the model predicts %ld targets: only one is supported",
                 num_target);
        goto error;
    }

    xgb->kind = XGB_KIND_VALUE;
    xgb->per_row = 1;
    if (strcmp(objective, "binary:logistic") == 0) {
        xgb->kind = XGB_KIND_BINARY;
    } else if (strcmp(objective, "multi:softprob") == 0) {
        if (num_class < 1 || num_class > 100000) {
            snprintf(why, why_size, "multi:softprob with %ld classes is not supported", num_class);
            goto error;
        }
        xgb->kind = XGB_KIND_SOFTPROB;
        xgb->per_row = (size_t)num_class;
    }

    xgb->n_outputs = xgb->kind == XGB_KIND_VALUE ? 1 : 1 + xgb->per_row;
    xgb->outputs = calloc(xgb->n_outputs, sizeof(*xgb->outputs));
    if (xgb->outputs == NULL)
        goto nomem;
    xgb->outputs[0] = strdup("prediction");
    if (xgb->outputs[0] == NULL)
        goto nomem;
    if (xgb->kind == XGB_KIND_BINARY) {
        xgb->outputs[1] = strdup("probability");
        if (xgb->outputs[1] == NULL)
            goto nomem;
    }
    for (i = 0; xgb->kind == XGB_KIND_SOFTPROB && i < xgb->per_row; i++) {
        char name[48];

        snprintf(name, sizeof(name), "probability.%zu", i);
        xgb->outputs[1 + i] = strdup(name);
        if (xgb->outputs[1 + i] == NULL)
            goto nomem;
    }
    snprintf(xgb->objective, sizeof(xgb->objective), "%s", objective);
    json_decref(config);
    return 0;

nomem:
    snprintf(why, why_size, "out of memory reading the model");
error:
    json_decref(config);
    return -1;
}

/* Sets the features from the model's names or from sml.predictor.features (@list, may be
 * NULL). @n is the number of features the model reads. On failure writes the whole message
 * to @errstr. */
static int xgb_features_set(xgb_t *xgb, const char *list, size_t n, const char *model_key,
                            const char *path, char *errstr, size_t errstr_size)
{
    const char **names;
    char *copy = NULL, *item, *next;
    bst_ulong n_names;
    size_t i, j, count = 0;

    if (XGBoosterGetStrFeatureInfo(xgb->booster, "feature_name", &n_names, &names) != 0) {
        char why[512];

        xgb_last_error(why, sizeof(why));
        snprintf(errstr, errstr_size, "params.%s: model file %s: %s", model_key, path, why);
        return -1;
    }
    if (n_names != 0 && n_names != n) {
        snprintf(errstr, errstr_size,
                 "params.%s: model file %s: %zu feature names for %zu features", model_key, path,
                 (size_t)n_names, n);
        return -1;
    }
    if (n_names == 0 && list == NULL) {
        snprintf(errstr, errstr_size,
                 "params.%s: required: model file %s has no feature names, so list its %zu "
                 "features in training order",
                 XGB_FEATURES_KEY, path, n);
        return -1;
    }

    xgb->features = calloc(n, sizeof(*xgb->features));
    if (xgb->features == NULL)
        goto nomem;
    xgb->n_features = n;
    /* The model's names first: the thread-local array XGBoost lends is valid only until its
     * next call. */
    for (i = 0; i < n_names; i++) {
        if (names[i][0] == '\0') {
            snprintf(errstr, errstr_size, "params.%s: model file %s: feature %zu has no name",
                     model_key, path, i + 1);
            return -1;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(xgb->features[j], names[i]) == 0) {
                snprintf(errstr, errstr_size,
                         "params.%s: model file %s: feature '%.64s' is named twice", model_key,
                         path, names[i]);
                return -1;
            }
        }
        xgb->features[i] = strdup(names[i]);
        if (xgb->features[i] == NULL)
            goto nomem;
    }
    if (list == NULL)
        return 0;

    copy = strdup(list);
    if (copy == NULL)
        goto nomem;
    for (item = copy; item != NULL; item = next) {
        size_t len;

        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        /* Surrounding spaces are not part of a name ("a, b"), as in sml.serializer.columns. */
        while (*item == ' ' || *item == '\t')
            item++;
        for (len = strlen(item); len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'); len--)
            item[len - 1] = '\0';
        if (count == n) {
            count++;
            continue;
        }
        if (n_names != 0) {
            /* Both: the list is a check, not a renaming, so that a list in another order
             * cannot silently feed the model the wrong columns. */
            if (strcmp(item, xgb->features[count]) != 0) {
                snprintf(errstr, errstr_size,
                         "params.%s: feature %zu is '%.64s' but the model's is '%.64s': leave "
                         "the param out to use the model's feature names, or list them in its "
                         "order",
                         XGB_FEATURES_KEY, count + 1, item, xgb->features[count]);
                goto error;
            }
        } else {
            for (j = 0; j < count; j++) {
                if (strcmp(xgb->features[j], item) == 0) {
                    snprintf(errstr, errstr_size, "params.%s: feature '%.64s' is listed twice",
                             XGB_FEATURES_KEY, item);
                    goto error;
                }
            }
            xgb->features[count] = strdup(item);
            if (xgb->features[count] == NULL)
                goto nomem;
        }
        count++;
    }
    if (count != n) {
        snprintf(errstr, errstr_size, "params.%s: lists %zu features but the model reads %zu",
                 XGB_FEATURES_KEY, count, n);
        goto error;
    }
    free(copy);
    return 0;

nomem:
    snprintf(errstr, errstr_size, "xgboost: out of memory");
error:
    free(copy);
    return -1;
}

/* Makes room for a batch of @rows rows. */
static int xgb_reserve(xgb_t *xgb, size_t rows)
{
    float *x;

    if (rows <= xgb->x_rows)
        return 0;
    if (rows > SIZE_MAX / sizeof(float) / xgb->n_features)
        return -1;
    x = realloc(xgb->x, rows * xgb->n_features * sizeof(float));
    if (x == NULL)
        return -1;
    xgb->x = x;
    xgb->x_rows = rows;
    return 0;
}

/* Predicts the @rows rows in xgb->x; sets *@out to XGBoost's rows × per_row results, valid
 * until the next call. */
static int xgb_run(xgb_t *xgb, size_t rows, const float **out, char *why, size_t why_size)
{
    char values[192];
    const bst_ulong *shape;
    bst_ulong dim, i, count = 1;

    /* numpy's __array_interface__ (version 3): the data pointer as a number, read-only. */
    snprintf(values, sizeof(values),
             "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"" XGB_FLOAT_TYPESTR
             "\",\"version\":3}",
             (uintptr_t)xgb->x, rows, xgb->n_features);
    if (XGBoosterPredictFromDense(xgb->booster, values, XGB_PREDICT_CONFIG, NULL, &shape, &dim,
                                  out) != 0) {
        xgb_last_error(why, why_size);
        return -1;
    }
    for (i = 0; i < dim; i++)
        count *= shape[i];
    if (count != rows * xgb->per_row) {
        snprintf(why, why_size, "XGBoost predicted %zu values for %zu rows, expected %zu per row",
                 (size_t)count, rows, xgb->per_row);
        return -1;
    }
    return 0;
}

static symtask_status_t xgb_create(const symtask_host_t *host, const symtask_params_t *params,
                                   void **state, char *errstr, size_t errstr_size)
{
    const char *key = XGB_MODEL_KEY, *path, *threads, *hint = "";
    const float *out;
    char why[512], detail[400], *end;
    bst_ulong n;
    long long n_threads;
    size_t i;
    int json_file;
    xgb_t *xgb;

    xgb = calloc(1, sizeof(*xgb));
    if (xgb == NULL) {
        snprintf(errstr, errstr_size, "xgboost: out of memory");
        return SYMTASK_ERR_FATAL;
    }
    xgb->host = host;

    threads = host->param(params, XGB_THREADS_KEY);
    n_threads = strtoll(threads, &end, 10);
    if (*end != '\0' || n_threads < 1 || n_threads > XGB_THREADS_MAX) {
        snprintf(errstr, errstr_size, "params.%s: %.32s is not a whole number from 1 to %d",
                 XGB_THREADS_KEY, threads, XGB_THREADS_MAX);
        goto error;
    }

    path = host->param(params, XGB_MODEL_KEY);
    if (path == NULL) {
        key = XGB_SEED_MODEL_KEY;
        path = host->param(params, XGB_SEED_MODEL_KEY);
    }
    if (path == NULL) {
        snprintf(errstr, errstr_size,
                 "params.%s: required: set it (or %s) to the path of a model saved by XGBoost "
                 "(.json or .ubj)",
                 XGB_MODEL_KEY, XGB_SEED_MODEL_KEY);
        goto error;
    }
    if (xgb_model_check_file(path, &hint, why, sizeof(why)) != 0)
        goto model_error;
    json_file = !xgb_has_extension(path, ".ubj");
    if (json_file && xgb_model_check_json_file(path, why, sizeof(why)) < 0)
        goto model_error;
    if (XGBoosterCreate(NULL, 0, &xgb->booster) != 0) {
        xgb_last_error(why, sizeof(why));
        snprintf(errstr, errstr_size, "xgboost: %s", why);
        goto error;
    }
    /* XGBoost applies params lazily, at the first prediction: loading itself runs on its
     * default threads (one per core), which then sleep in OpenMP's pool. */
    snprintf(detail, sizeof(detail), "%lld", n_threads);
    if (XGBoosterSetParam(xgb->booster, "nthread", detail) != 0) {
        xgb_last_error(why, sizeof(why));
        snprintf(errstr, errstr_size, "xgboost: %s", why);
        goto error;
    }
    if (XGBoosterLoadModel(xgb->booster, path) != 0) {
        xgb_last_error(detail, sizeof(detail));
        snprintf(why, sizeof(why), "XGBoost cannot load it: %s%s", detail, hint);
        goto model_error;
    }
    if (XGBoosterGetNumFeature(xgb->booster, &n) != 0) {
        xgb_last_error(why, sizeof(why));
        goto model_error;
    }
    if (n == 0) {
        snprintf(why, sizeof(why), "the model reads no features");
        goto model_error;
    }
    if (xgb_model_read_config(xgb, why, sizeof(why)) != 0 ||
        (!json_file && xgb_model_check_loaded(xgb, (size_t)n, why, sizeof(why)) != 0))
        goto model_error;
    if (xgb_features_set(xgb, host->param(params, XGB_FEATURES_KEY), (size_t)n, key, path, errstr,
                         errstr_size) != 0)
        goto error;

    /* One row of missing values now, so that a model XGBoost loads but cannot predict with
     * fails the create rather than the first batch. */
    if (xgb_reserve(xgb, 1) != 0) {
        snprintf(errstr, errstr_size, "xgboost: out of memory");
        goto error;
    }
    for (i = 0; i < xgb->n_features; i++)
        xgb->x[i] = NAN;
    if (xgb_run(xgb, 1, &out, detail, sizeof(detail)) != 0) {
        snprintf(why, sizeof(why), "XGBoost cannot predict with it: %s", detail);
        goto model_error;
    }
    xgb->columns = calloc(xgb->n_features + xgb->n_outputs, sizeof(*xgb->columns));
    if (xgb->columns == NULL) {
        snprintf(errstr, errstr_size, "xgboost: out of memory");
        goto error;
    }
    for (i = 0; i < xgb->n_features; i++)
        xgb->columns[i] = (symtask_column_t){xgb->features[i], SYMTASK_TYPE_NUMBER};
    for (i = 0; i < xgb->n_outputs; i++)
        xgb->columns[xgb->n_features + i] =
            (symtask_column_t){xgb->outputs[i], SYMTASK_TYPE_NUMBER};
    /* the path is the task's business (API.md counts it as a secret): not in the log */
    host->log(SYMTASK_LOG_INFO, "xgboost: %s model with %zu features and %zu outputs loaded (%s)",
              xgb->objective, xgb->n_features, xgb->n_outputs, key);
    *state = xgb;
    return SYMTASK_OK;

model_error:
    snprintf(errstr, errstr_size, "params.%s: model file %s: %s", key, path, why);
error:
    xgb_free(xgb);
    return SYMTASK_ERR_FATAL;
}

static void xgb_signature(void *state, symtask_signature_t *sig)
{
    xgb_t *xgb = state;

    sig->features = xgb->columns;
    sig->n_features = xgb->n_features;
    sig->outputs = xgb->columns + xgb->n_features;
    sig->n_outputs = xgb->n_outputs;
}

static symtask_status_t xgb_predict(void *state, symtask_batch_t *batch, char *errstr,
                                    size_t errstr_size)
{
    xgb_t *xgb = state;
    const float *p;
    char why[512];
    size_t row, i, n;

    if (batch->n_features != xgb->n_features || batch->n_outputs != xgb->n_outputs) {
        snprintf(errstr, errstr_size,
                 "xgboost: batch has %zu features and %zu outputs, the model %zu and %zu",
                 batch->n_features, batch->n_outputs, xgb->n_features, xgb->n_outputs);
        return SYMTASK_ERR_FATAL;
    }
    if (batch->rows == 0)
        return SYMTASK_OK;
    if (xgb_reserve(xgb, batch->rows) != 0) {
        snprintf(errstr, errstr_size, "xgboost: out of memory for a batch of %zu rows",
                 batch->rows);
        return SYMTASK_ERR_FATAL;
    }
    /* XGBoost reads 32-bit floats; NaN stays NaN, its missing value. */
    n = batch->rows * xgb->n_features;
    for (i = 0; i < n; i++)
        xgb->x[i] = (float)batch->features[i];
    if (xgb_run(xgb, batch->rows, &p, why, sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "xgboost: prediction failed: %s", why);
        return SYMTASK_ERR_FATAL;
    }

    for (row = 0; row < batch->rows; row++, p += xgb->per_row) {
        double *out = batch->outputs + row * xgb->n_outputs;
        size_t best = 0;
        int finite = 1;

        for (i = 0; i < xgb->per_row; i++)
            finite &= isfinite(p[i]) != 0;
        if (!finite) {
            for (i = 0; i < xgb->n_outputs; i++)
                out[i] = NAN;
            batch->row_status[row] = SYMTASK_ERR_RECORD;
            snprintf(symtask_batch_row_error(batch, row), batch->row_error_size,
                     "the prediction is not a finite number");
            continue;
        }
        switch (xgb->kind) {
        case XGB_KIND_VALUE:
            out[0] = p[0];
            break;
        case XGB_KIND_BINARY:
            out[0] = p[0] >= 0.5f ? 1.0 : 0.0;
            out[1] = p[0];
            break;
        case XGB_KIND_SOFTPROB:
            /* The first of equal probabilities, as numpy's argmax. */
            for (i = 0; i < xgb->per_row; i++) {
                if (p[i] > p[best])
                    best = i;
                out[1 + i] = p[i];
            }
            out[0] = (double)best;
            break;
        }
    }
    return SYMTASK_OK;
}

static void xgb_destroy(void *state)
{
    xgb_free(state);
}

static const symtask_plugin_t xgb_plugin = {
    SYMTASK_PLUGIN_HEAD(SYMTASK_PLUGIN_PREDICTOR),
    .name = "xgboost",
    .version = "1.1.0",
    .description = "Gradient-boosted trees from a model saved by XGBoost as JSON or UBJSON.",
    .options = xgb_options,
    .ops.predictor =
        {
            .create = xgb_create,
            .predict = xgb_predict,
            .destroy = xgb_destroy,
            .signature = xgb_signature,
        },
};

SYMTASK_PLUGIN_EXPORT const symtask_plugin_t *symtask_plugin_entry(const symtask_host_t *host)
{
    return &xgb_plugin;
}
