import { FlagError, parseFlags, usage, type FlagSpec } from './flags.js';

const specs: FlagSpec[] = [
  { name: 'namespace', default: 'metallb-system', env: 'METALLB_NAMESPACE', help: 'ns' },
  { name: 'metrics-port', default: '7472', kind: 'port', help: 'port' },
  { name: 'log-level', default: 'info', choices: ['debug', 'info'], help: 'level' },
  { name: 'node-name', env: 'METALLB_NODE_NAME', help: 'node' },
  { name: 'verbose', kind: 'bool', help: 'bool' },
];

describe('parseFlags', () => {
  it('applies defaults when nothing is given', () => {
    expect(parseFlags(specs, [], {}).values).toEqual({
      namespace: 'metallb-system',
      'metrics-port': '7472',
      'log-level': 'info',
      'node-name': undefined,
      verbose: undefined,
    });
  });

  it('reads --flag value and --flag=value, a flag beating its environment variable', () => {
    const { values } = parseFlags(specs, ['--namespace', 'lb', '--node-name=n1', '--verbose'], {
      METALLB_NAMESPACE: 'from-env',
      METALLB_NODE_NAME: 'env-node',
    });
    expect(values).toMatchObject({ namespace: 'lb', 'node-name': 'n1', verbose: 'true' });
  });

  it('falls back to the environment variable, ignoring an empty one', () => {
    expect(parseFlags(specs, [], { METALLB_NODE_NAME: 'node2' }).values['node-name']).toBe('node2');
    expect(parseFlags(specs, [], { METALLB_NAMESPACE: '' }).values.namespace).toBe('metallb-system');
  });

  it.each([
    [['--nope'], 'unknown flag --nope'],
    [['--metrics-port', '70000'], '--metrics-port "70000": want a port number from 0 to 65535'],
    [['--log-level', 'loud'], '--log-level "loud": want one of debug, info'],
    [['--namespace'], 'flag --namespace needs a value'],
    [['stray'], 'unexpected argument "stray"'],
  ])('rejects %j with a message naming the flag', (argv, message) => {
    expect(() => parseFlags(specs, argv, {})).toThrow(FlagError);
    expect(() => parseFlags(specs, argv, {})).toThrow(message);
  });

  it('recognises --help and lists every flag with its default', () => {
    expect(parseFlags(specs, ['--help'], {}).help).toBe(true);
    const text = usage('beacon-x', 'Does x.', specs);
    for (const s of specs) expect(text).toContain(`--${s.name}`);
    expect(text).toContain('default "metallb-system"');
    expect(text).toContain('env METALLB_NODE_NAME');
  });
});
