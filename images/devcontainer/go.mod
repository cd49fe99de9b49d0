module gitspace/devcontainer

// go 1.19: the image builds this with the distribution's Go (Debian 12 ships 1.19, Ubuntu 24.04 1.22).
go 1.19

require github.com/tailscale/hujson v0.0.0-20221223112325-20486734a56a
