// The BGP finite state machine (RFC 4271 §8): pure, timers and connections injected.
export { BgpFsm } from './fsm.js';
export type { ConnId, FsmAction, FsmConfig, FsmCounters, FsmEvent, State, TimerName } from './types.js';
export { eventFromDecode } from './decode-event.js';
