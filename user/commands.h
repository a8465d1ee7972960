/* Subcommands of the carbonbpf CLI: each takes its own argv (argv[0] is the command name). */
#ifndef CB_COMMANDS_H
#define CB_COMMANDS_H

/*
 * `carbonbpf config`: prints the effective configuration (key, value, origin; secrets
 * masked); `config --set KEY=VALUE [--global]` writes one key into ./.codecarbon.config
 * (--global: ~/.codecarbon.config); `config --keys` prints the key table as Markdown.
 * Prints to stdout/stderr. Returns the exit code: 0 ok, 1 failure, 2 usage.
 */
int cmd_config(int argc, char **argv);

/* `carbonbpf monitor [OPTIONS] [-- CMD ARGS]`. Returns the exit code (CMD's when one ran). */
int cmd_monitor(int argc, char **argv);

/* `carbonbpf detect [--json]`: machine, energy sources, BPF, cgroups, privileges, intensity. */
int cmd_detect(int argc, char **argv);

/* `carbonbpf login`: check/save API credentials, or create an experiment with a user token. */
int cmd_login(int argc, char **argv);

/* `carbonbpf api ...`: organizations, projects, experiments and project tokens. */
int cmd_api(int argc, char **argv);

#endif
