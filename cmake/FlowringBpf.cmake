# FlowringBpf.cmake - owned by the Bpf area; filled in as that area lands.
