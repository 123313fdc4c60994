export type {
  ClientFactory,
  ClientOptions,
  CloseInfo,
  ContractClient,
  ContractError,
  JoinInfo,
  MessageInfo,
  Network,
  Pairing,
  PairingSession,
  Peer,
  PresenceInfo,
  PublishResult,
  RoomView,
  RunningWsServer,
  ServerSetup,
  SignalInfo,
  WelcomeInfo,
  WsServer,
} from './types.js'
export { SCENARIOS, type Scenario, type ScenarioContext, type ScenarioSession } from './scenarios.js'
export {
  contractTests,
  describeError,
  formatMatrix,
  notApplicable,
  runContract,
  runScenario,
  runScenarioOrThrow,
  selectScenarios,
  testName,
  type ContractTestsOptions,
  type RunOptions,
  type ScenarioResult,
  type ScenarioStatus,
  type TestApi,
} from './runner.js'
export { DEFAULT_SETUP, resolveSetup, userOfToken } from './setup.js'
export { REFUSE_CODE, REQUESTS_CONTRACT, type EchoInput } from './requests.js'
export { ContractFailure, eventually, expectEqual, expectTrue } from './check.js'
export { rawClient, type RawClientOptions } from './raw-client.js'
export { asPeer, wsPairing, type WsPairingOptions } from './ws-pairing.js'
export { startFaultProxy, type FaultProxy } from './fault-proxy.js'
export { fill, frameFromVector, vector, vectorMessage, type FrameVector } from './vectors.js'
