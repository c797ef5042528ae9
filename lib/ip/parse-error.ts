// The one error type the IP parsers throw. It carries the offending text and a reason, so a
// caller that knows the object and field can prefix them:
//   IPAddressPool metallb-system/first-pool: spec.addresses[1] "10.0.0.9-10.0.0.1": range start is after its end

export class IPParseError extends Error {
  override readonly name = 'IPParseError';

  constructor(
    /** The text exactly as given. */
    readonly input: string,
    /** What is wrong with it, without the quoted input. */
    readonly reason: string,
  ) {
    super(`${JSON.stringify(input)}: ${reason}`);
  }
}
