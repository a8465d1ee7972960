/*
 * Benchmark helper: loads the programs named on the command line from a BPF object, attaches
 * them, prints "attached" and keeps them attached until stdin reaches EOF.
 * Usage: attach OBJ PROG...
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct bpf_link *links[16] = { 0 };
	struct bpf_object *obj;
	struct bpf_program *prog;
	int n = 0, err = 1;
	char buf[64];

	if (argc < 3 || argc > 18) {
		fprintf(stderr, "usage: attach OBJ PROG...\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "attach: cannot open %s\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		bool wanted = false;

		for (int i = 2; i < argc; i++)
			wanted |= !strcmp(bpf_program__name(prog), argv[i]);
		bpf_program__set_autoload(prog, wanted);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "attach: cannot load %s\n", argv[1]);
		goto out;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		links[n] = bpf_program__attach(prog);
		if (!links[n]) {
			fprintf(stderr, "attach: cannot attach %s\n", bpf_program__name(prog));
			goto out;
		}
		n++;
	}
	printf("attached %d\n", n);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	err = 0;
out:
	for (int i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return err;
}
