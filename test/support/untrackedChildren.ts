// Loaded into every test process (package.json's tap node-arg). tap's runner loads @tapjs/processinfo into
// each test file's process, and processinfo then loads itself into every child process the test spawns
// (through NODE_OPTIONS, re-added at each spawn by process-on-spawn), to cover children: this suite
// collects no coverage, and a routemesh command so tracked costs three times the CPU to start (0.35 s
// instead of 0.12 s). The children run as a user runs them: without it.
const spawnHooks = (globalThis as Record<symbol, { listeners: unknown[] } | undefined>)[Symbol.for('process-on-spawn@*:singletonId')];
if (spawnHooks) spawnHooks.listeners.length = 0;
const nodeOptions = process.env.NODE_OPTIONS?.replace(/"?--import=\S*@tapjs\/processinfo\/\S*"?/g, '').trim();
if (nodeOptions) process.env.NODE_OPTIONS = nodeOptions;
else delete process.env.NODE_OPTIONS;
