/* carbonbpf: per-process energy and carbon attribution. Dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "util.h"

static const char usage[] =
	"Usage: carbonbpf COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  monitor   measure per-process energy and CO2eq (whole machine, -- CMD, or --pid)\n"
	"  config    show the effective configuration, or set a key (--set KEY=VALUE)\n"
	"  detect    what this machine offers: CPUs, energy sources, BPF, cgroups, privileges\n"
	"  login     check and save CodeCarbon API credentials, or create an experiment\n"
	"  api       list and create organizations, projects, experiments, project tokens\n"
	"  --version print the version\n"
	"\n"
	"`carbonbpf COMMAND --help` describes each command.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "monitor"))
		return cmd_monitor(argc - 1, argv + 1);
	if (!strcmp(argv[1], "config"))
		return cmd_config(argc - 1, argv + 1);
	if (!strcmp(argv[1], "detect"))
		return cmd_detect(argc - 1, argv + 1);
	if (!strcmp(argv[1], "login"))
		return cmd_login(argc - 1, argv + 1);
	if (!strcmp(argv[1], "api"))
		return cmd_api(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v")) {
		printf("carbonbpf %s\n", CARBONBPF_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "carbonbpf: unknown command '%s'\n\n%s", argv[1], usage);
	return 2;
}
