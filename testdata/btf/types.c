/* BTF fixture: one of every construct the structops BTF parser must handle.
 * Compiled with `clang-19 -g -target bpf -c` (see Makefile); only the .BTF section is kept.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed long long s64;
typedef u32 u32_alias;            /* typedef chain: u32_alias -> u32 -> unsigned int */
typedef u32_alias u32_alias2;

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user __attribute__((btf_type_tag("user")))

enum color { RED, GREEN = 5, BLUE };
enum sign { NEG = -2, ZERO = 0, POS = 3 };
enum big64 { SMALL = 1, HUGE = 0xfffffffffffffff0ULL };
enum neg64 { MIN64 = -0x7fffffffffffffffLL - 1, ONE64 = 1 };
enum __attribute__((packed)) tiny { T0, T1 };

struct flags {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 7;
	u8 d;
	unsigned long long e : 33;
	enum color col : 4;
};

union value {
	u64 u;
	s64 s;
	double d;
	unsigned char bytes[8];
};

struct node;
typedef int (*visit_fn)(struct node *n, void *ctx);

struct node {
	struct node *next;
	const volatile struct node *prev;
	u32_alias2 key;
	union value val;
	struct flags fl;
	struct {
		int x;
		union {
			int y;
			float z;
		};
	};
	char name[16];
	int matrix[2][3];
	visit_fn visit;
	void (*cb)(int, ...);
	int *(*ret_ptr_fn)(const char *restrict fmt);
	int __user *uptr;
	int tagged __tag("member_tag");
	enum tiny t;
	enum sign sg;
	enum big64 b64;
	enum neg64 n64;
	struct opaque *fwd;
	union fwd_union *fwd_u;
} __tag("struct_tag");

struct __attribute__((packed)) packed_s {
	char c;
	int i;
	short s;
};

struct __attribute__((aligned(64))) cacheline {
	long a;
};

struct wrapper {
	int common;
	struct cacheline data;
};

struct empty {};

int global_counter __tag("var_tag") = 1;
static volatile int static_counter;
struct node root_node;
struct packed_s packed_var;
struct wrapper wrapper_var;
struct empty empty_var;
enum color color_var;

__attribute__((noinline)) int visit_all(struct node *n __tag("param_tag"), void *ctx) __tag("func_tag")
{
	int count = 0;
	for (; n; n = n->next)
		count += n->visit ? n->visit(n, ctx) : 0;
	return count + static_counter + packed_var.i + wrapper_var.common + color_var;
}

static __attribute__((noinline)) long helper(long x)
{
	return x * 2;
}

int entry(void *ctx)
{
	return visit_all(&root_node, ctx) + (int)helper(global_counter);
}
