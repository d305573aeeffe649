# One-off generator of tests/fuzz/corpus (the files are committed; this script is kept as tests/fuzz/make_corpus.py).
import json, os, hashlib
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
C = os.path.join(ROOT, 'tests', 'fuzz', 'corpus')
G = os.path.join(ROOT, 'tests', 'golden')  # ref_*.json fixtures
BOOK = os.path.join(ROOT, 'data', 'book')  # the book's numbers

def put(harness, name, data):
    d = os.path.join(C, harness); os.makedirs(d, exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(os.path.join(d, name), 'wb').write(data)

book = json.load(open(os.path.join(BOOK, 'book_11_multihead_attention_seed123.json')))['inputs']['inputs_6x3']
ref = json.load(open(os.path.join(G, 'ref_mha_b2_t5_din4_dout6_h3_causal_noqkvbias.json')))
# ---- fuzz_json_input
J = 'fuzz_json_input'
put(J, 'book_6x3', json.dumps({'x': book}))
put(J, 'book_batch_2x6x3', json.dumps({'x': [book, book]}))
put(J, 'ref_2x5x4', json.dumps({'x': ref['inputs']}))
put(J, 'one_token', '{"x": [[0.43, 0.15, 0.89]]}')
put(J, 'python_nan', '{"x": [[NaN, 1.0], [Infinity, -Infinity]]}')
put(J, 'overflow_1e400', '{"x": [[1e400, 2]]}')
put(J, 'float32_max', '{"x": [[3.4028235e38, -3.4028235e38, 1e-45, -0.0]]}')
put(J, 'ragged', '{"x": [[1, 2, 3], [4, 5]]}')
put(J, 'ragged_deeper', '{"x": [[[1, 2]], [[3, 4], [5, 6]]]}')
put(J, 'not_numbers', '{"x": [["1", true], [null, {}]]}')
put(J, 'empty_x', '{"x": []}')
put(J, 'empty_rows', '{"x": [[], []]}')
put(J, 'rank4', '{"x": [[[[1.0]]]]}')
put(J, 'rank1', '{"x": [1, 2, 3]}')
put(J, 'scalar', '{"x": 5}')
put(J, 'missing_x', '{"y": [[1]]}')
put(J, 'not_object', '[[1, 2]]')
put(J, 'truncated', '{"x": [[0.43, 0.15')
put(J, 'empty', '')
put(J, 'whitespace', ' \n\t ')
put(J, 'deep_100', '{"x": ' + '[' * 100 + ']' * 100 + '}')
put(J, 'deep_strings', '{"x": [["[[[[", "\\"]]"]], "k": "\\u005b"}')
put(J, 'duplicate_key', '{"x": [[1]], "x": [[2, 3]]}')
put(J, 'integers', '{"x": [[1, -2, 18446744073709551615, -9223372036854775808]]}')
put(J, 'exponents', '{"x": [[1E2, 1e-400, -0e0, 5e-324]]}')
# ---- fuzz_state_dict: byte 0 = flags (mechanism = flags % 6: simplified, self-v1, self, causal,
# multihead-wrapper, multihead; 0x08 qkv_bias, 0x10 d_out given, 0x20 heads given, 0x40 causal given), byte 1 = sizes
S = 'fuzz_state_dict'
def sd(flags, sizes, d):
    return bytes([flags, sizes]) + json.dumps(d).encode()
w = ref['weights']
mha = {'W_query.weight': w['W_query'], 'W_key.weight': w['W_key'], 'W_value.weight': w['W_value'],
       'out_proj.weight': w['out_proj'], 'out_proj.bias': w['out_proj_bias']}
put(S, 'multihead_ref', sd(5 | 0x20, 2 << 3, mha))
put(S, 'multihead_ref_mask', sd(5 | 0x20, 2 << 3, dict(mha, mask=[[0, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0] * 5])))
put(S, 'causal_ref', sd(3, 0, {'W_query.weight': w['W_query'], 'W_key.weight': w['W_key'], 'W_value.weight': w['W_value']}))
put(S, 'self_bias', sd(2 | 0x08, 0, {'W_query.weight': [[0.1, 0.2], [0.3, 0.4]], 'W_query.bias': [0.1, 0.2],
                                        'W_key.weight': [[0.5, 0.6], [0.7, 0.8]], 'W_key.bias': [0.0, 0.0],
                                        'W_value.weight': [[1, 0], [0, 1]], 'W_value.bias': [0.5, -0.5]}))
v1 = json.load(open(os.path.join(G, 'ref_self_attention_v1_t5_din4_dout6.json')))['weights_in_out']
put(S, 'self_v1_ref', sd(1, 0, {'W_query': v1['W_query'], 'W_key': v1['W_key'], 'W_value': v1['W_value']}))
wr = {}
for h in range(2):
    for n in ('W_query', 'W_key', 'W_value'):
        wr['heads.%d.%s.weight' % (h, n)] = [[0.1 * h, 0.2, 0.3], [0.4, 0.5 - h, 0.6]]
    wr['heads.%d.mask' % h] = [[0, 1], [0, 0]]
put(S, 'wrapper_2_heads', sd(4, 0, wr))
put(S, 'simplified_empty', sd(0, 0, {}))
put(S, 'unknown_key', sd(2, 0, {'W_query.weight': [[1]], 'W_key.weight': [[1]], 'W_value.weight': [[1]], 'W_other': [[1]]}))
put(S, 'missing_key', sd(2, 0, {'W_query.weight': [[1]], 'W_key.weight': [[1]]}))
put(S, 'wrong_shape', sd(2, 0, {'W_query.weight': [[1, 2]], 'W_key.weight': [[1]], 'W_value.weight': [[1]]}))
put(S, 'nan_weight', bytes([2, 0]) + b'{"W_query.weight": [[NaN]], "W_key.weight": [[Infinity]], "W_value.weight": [[-Infinity]]}')
put(S, 'bias_without_flag', sd(2, 0, {'W_query.weight': [[1]], 'W_query.bias': [1], 'W_key.weight': [[1]], 'W_value.weight': [[1]]}))
put(S, 'mask_not_square', sd(3, 0, {'mask': [[0, 1]], 'W_query.weight': [[1]], 'W_key.weight': [[1]], 'W_value.weight': [[1]]}))
put(S, 'scalar_value', sd(2, 0, {'W_query.weight': 1.5}))
put(S, 'not_object', bytes([2, 0]) + b'[1, 2]')
# ---- fuzz_options: NUL-separated arguments, then 0x01 and standard input
O = 'fuzz_options'
def args(*a, stdin=None):
    b = b'\0'.join(x.encode() for x in a)
    return b if stdin is None else b + b'\x01' + stdin.encode()
put(O, 'run_book', args('run', '--mechanism', 'multihead', '--d-out', '2', '--heads', '2', '--input', 'batch.json', '--format', 'text'))
put(O, 'run_stdin', args('run', '--mechanism', 'causal', '--d-out', '2', '--input', '-', stdin=json.dumps({'x': book})))
put(O, 'run_weights', args('run', '--mechanism', 'self', '--input', 'in.json', '--weights', 'w.json'))
put(O, 'run_mha_weights', args('run', '--mechanism', 'multihead', '--input', 'in.json', '--weights', 'mha.json', '--heads', '2', '--intermediates'))
put(O, 'run_train', args('run', '--mechanism', 'multihead-wrapper', '--d-out', '2', '--heads', '3', '--dropout', '0.5', '--train', '--seed', '789', '--input', 'in.json', '--threads', '2'))
put(O, 'run_route', args('run', '--mechanism', 'causal', '--d-out', '3', '--causal-route', 'renormalise', '--input', 'in.json', '--no-weights'))
put(O, 'run_no_causal', args('run', '--mechanism', 'multihead', '--d-out', '4', '--heads', '2', '--no-causal', '--qkv-bias', '--context-length', '5', '--input', 'in.json'))
put(O, 'run_simplified', args('run', '--mechanism=simplified', '--input=in.json', '--format=json'))
put(O, 'run_bad_input', args('run', '--mechanism', 'self', '--d-out', '2', '--input', 'bad.json'))
put(O, 'run_empty', args('run', '--mechanism', 'self', '--d-out', '2', '--input', 'empty.json'))
put(O, 'run_deep', args('run', '--mechanism', 'self', '--d-out', '2', '--input', 'deep.json'))
put(O, 'run_dir', args('run', '--mechanism', 'self', '--d-out', '2', '--input', 'dir'))
put(O, 'run_missing_file', args('run', '--mechanism', 'self', '--d-out', '2', '--input', 'nope.json'))
put(O, 'run_both_stdin', args('run', '--mechanism', 'self', '--input', '-', '--weights', '-', stdin='{}'))
put(O, 'run_bad_values', args('run', '--mechanism', 'multihead', '--d-out', '5', '--heads', '2', '--dropout', '1.5', '--seed', '-1', '--input', 'in.json'))
put(O, 'run_unknown_option', args('run', '--mechanism', 'self', '--frobnicate', '--input', 'in.json'))
put(O, 'unknown_command', args('frobnicate'))
put(O, 'no_command', b'')
put(O, 'info', args('info', '--format', 'json'))
put(O, 'bench', args('bench', '--config', 'C1', '--format', 'json'))
put(O, 'help', args('run', '--help'))
put(O, 'version', args('--version'))
# ---- the new surfaces' seeds, from PyTorch's golden files (tests/golden/torch)
T = os.path.join(G, 'torch')
def torch_case(name):
    return json.load(open(os.path.join(T, name + '.json')))
def compact(d):
    return json.dumps(d, separators=(',', ':'))
# fuzz_attention: byte 0 = options (sel % 3 causal none/upper-left/lower-right, (sel >> 2) % 3 weights none/averaged/
# per head, 0x20 scale, 0x80 dropout), then {"query", "key", "value", "attn_mask"?}
A = 'fuzz_attention'
for i, f in enumerate(sorted(os.listdir(T))):
    if f.startswith('sdpa_'):
        put(A, 'golden_' + f[:-5], bytes([8 + i % 3]) + compact(torch_case(f[:-5])['inputs']).encode())
put(A, 'mask_rank_5', bytes([8]) + b'{"query":[[[[1]]]],"key":[[[[1]]]],"value":[[[[1]]]],"attn_mask":[[[[[true]]]]]}')
put(A, 'mask_mixed', bytes([8]) + b'{"query":[[[[1]]]],"key":[[[[1]]]],"value":[[[[1]]]],"attn_mask":[[true, 0]]}')
put(A, 'mask_huge', bytes([8]) + b'{"query":[[[[1e19]]]],"key":[[[[1e19]]]],"value":[[[[1]]]],"attn_mask":[[3e38]]}')
put(A, 'gqa_bad_heads', bytes([8]) + b'{"query":[[[[1]],[[1]],[[1]]]],"key":[[[[1]],[[1]]]],"value":[[[[1]],[[1]]]]}')
# fuzz_run_inputs: byte 0 = mechanism (a & 3: multihead, multihead, multihead-wrapper, causal), 0x04 causal given
# (0x10 its value), 0x08 no weights, 0x20 two threads, 0x40 --decode, 0x80 qkv_bias; byte 1 = d_out - 1 (b & 7),
# heads - 1 ((b >> 3) & 3), kv_heads ((b >> 5) & 3, 0 = not given), 0x80 training with dropout 0.25
R = 'fuzz_run_inputs'
def run_doc(case):
    inp = torch_case(case)['inputs']
    d = {'x': inp['query']}
    if inp['key'] != inp['query']: d['kv'] = inp['key']
    for m in ('key_padding_mask', 'attn_mask'):
        if m in inp: d[m] = inp[m]
    return compact(d).encode()
for case in ('mha_key_padding_mask', 'mha_attn_mask_bool_2d', 'mha_attn_mask_bool_3d', 'mha_attn_mask_float',
             'mha_self_attention'):
    put(R, 'golden_' + case, bytes([0x04, 7 | 1 << 3]) + run_doc(case))  # multihead, d_out 8, 2 heads
put(R, 'cross_kv', bytes([0x00, 3 | 1 << 3 | 1 << 5]) + b'{"x":[[0.1,0.2],[0.3,0.4]],"kv":[[1,2,3],[4,5,6],[7,8,9]]}')
put(R, 'decode', bytes([0x40, 3 | 1 << 3]) + compact({'x': book}).encode())
put(R, 'decode_batch_gqa', bytes([0x60, 3 | 1 << 3 | 1 << 5]) + compact({'x': [book, book]}).encode())
put(R, 'padding_all', bytes([0x00, 1]) + b'{"x":[[[1,2],[3,4]]],"key_padding_mask":[[true,true]]}')
put(R, 'attn_mask_wrong_rank', bytes([0x00, 1]) + b'{"x":[[1,2],[3,4]],"attn_mask":[[[[false]]]]}')
put(R, 'attn_mask_float_huge', bytes([0x00, 1]) + b'{"x":[[1,2],[3,4]],"attn_mask":[[3e38,0],["-inf",-3e38]]}')
put(R, 'kv_rank_mismatch', bytes([0x00, 1]) + b'{"x":[[1,2],[3,4]],"kv":[[[1,2]]]}')
put(R, 'wrapper_mask', bytes([0x02, 1 | 2 << 3]) + b'{"x":[[1,2],[3,4]],"key_padding_mask":[false,true]}')
# fuzz_weights: byte 0 = format (a & 3: auto, book, torch-mha, gpt2), 0x04 prefix h.0.attn., heads ((a >> 3) & 3:
# not given, 1, 2, 4), 0x20 causal given (0x40 its value), 0x80 no weights; byte 1 = x's width - 1 (b & 7), 0x08
# batched, 0x10 qkv_bias, 0x20 context_length 8, 0x40 two threads
W = 'fuzz_weights'
def weights_seed(a, b, sd):
    return bytes([a, b]) + compact(sd).encode()
for case in ('mha_self_attention', 'mha_no_bias', 'mha_key_padding_mask', 'mha_cross_attention_kdim_vdim'):
    put(W, 'golden_' + case, weights_seed(2 | 2 << 3, 7, torch_case(case)['state_dict']))
g2 = torch_case('gpt2_attention_block')
put(W, 'golden_gpt2', weights_seed(3 | 2 << 3, 7 | 8, g2['state_dict']))
put(W, 'golden_gpt2_prefixed', weights_seed(0 | 4 | 2 << 3, 7, g2['state_dict_prefixed']))
put(W, 'book_multihead', weights_seed(1 | 2 << 3, 3, mha))
put(W, 'bias_k', weights_seed(2 | 1 << 3, 0, {'in_proj_weight': [[1]] * 3, 'bias_k': [[[0.5]]], 'out_proj.weight': [[1]]}))
put(W, 'mixed_formats', weights_seed(0 | 1 << 3, 0, {'in_proj_weight': [[1]] * 3, 'c_attn.weight': [[1, 1, 1]]}))
put(W, 'gpt2_bias_not_causal', weights_seed(3 | 1 << 3, 0, {'c_attn.weight': [[1, 1, 1]], 'c_proj.weight': [[1]],
                                                            'bias': [[[[1, 1], [1, 1]]]]}))
put(W, 'gpt2_huge', weights_seed(3 | 1 << 3, 0, {'c_attn.weight': [[3e38, 3e38, 1]], 'c_proj.weight': [[3e38]]}))
put(W, 'prefix_missing', weights_seed(2 | 4 | 1 << 3, 0, {'in_proj_weight': [[1]] * 3, 'out_proj.weight': [[1]]}))
# fuzz_backward: FuzzedDataProvider bytes (integers are read from the end); a few fixed random strings to start from
import random
rnd = random.Random(2026)
for i in range(8):
    put('fuzz_backward', 'random_%d' % i, bytes(rnd.randrange(256) for _ in range(64 + 32 * i)))
# fuzz_grad: byte 0 = command (a & 3 == 3: attention --grad, else grad on x.json / x_kv.json / x_mask.json), 0x04
# multihead (0x08 two heads), 0x10 training dropout, 0x20 two threads, 0x40 qkv_bias; then the grad_output document
def ones(shape, v=1):
    return v if not shape else [ones(shape[1:], v) for _ in range(shape[0])]
put('fuzz_grad', 'run_ones', bytes([0x04]) + compact(ones([2, 3, 4])).encode())
put('fuzz_grad', 'run_kv_heads', bytes([0x0d]) + compact(ones([2, 3, 4], 0.5)).encode())
put('fuzz_grad', 'run_mask_train', bytes([0x16]) + compact(ones([2, 3, 4], -2)).encode())
put('fuzz_grad', 'attention_ones', bytes([0x03]) + compact(ones([1, 2, 3, 3])).encode())
put('fuzz_grad', 'attention_lower_right', bytes([0x27]) + compact(ones([1, 2, 3, 3], 0.25)).encode())
put('fuzz_grad', 'wrong_shape', bytes([0x04]) + compact(ones([2, 3, 5])).encode())
put('fuzz_grad', 'nan', bytes([0x04]) + b'[[[NaN, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]], [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, Infinity]]]')
put('fuzz_grad', 'huge', bytes([0x04]) + compact(ones([2, 3, 4], 3e38)).encode())
put('fuzz_grad', 'not_a_list', bytes([0x03]) + b'{"grad_output": 1}')
# fuzz_options: the grad and train commands (train runs 2 steps: the harness adds --steps 2)
put(O, 'grad_run', args('grad', '--mechanism', 'multihead', '--d-out', '2', '--heads', '2', '--input', 'batch.json'))
put(O, 'grad_output_stdin', args('grad', '--mechanism', 'causal', '--d-out', '2', '--input', 'in.json', '--grad-output', '-', stdin='[[1, 1], [1, 1], [1, 1]]'))
put(O, 'attention_grad', args('attention', '--grad', '--input', '-', stdin='{"query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]]], "value": [[[[1], [2]]]]}'))
put(O, 'train_copy', args('train', '--task', 'copy-previous', '--tokens', '8', '--batch', '4', '--format', 'json'))
put(O, 'train_sgd', args('train', '--task', 'reverse', '--optimizer', 'sgd', '--lr', '0.1', '--heads', '2', '--d-model', '8', '--seed', '3'))
put(O, 'train_bad', args('train', '--task', 'nope', '--lr', 'x'))
# fuzz_train: FuzzedDataProvider bytes (integers from the end); fixed random strings, and zeros (every size the
# smallest, the default optimizer)
for i in range(8):
    put('fuzz_train', 'random_%d' % i, bytes(rnd.randrange(256) for _ in range(48 + 24 * i)))
put('fuzz_train', 'zeros', bytes(64))
