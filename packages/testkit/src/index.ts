export type { Clock, FakeClock } from "./clock.js";
export { createFakeClock } from "./clock.js";
export type { TestkitErrorCode } from "./errors.js";
export { TestkitError } from "./errors.js";
export type { FakeAgentBehaviour, FakeAgentCall, FakeAgentCliOptions } from "./fake-agent-cli.js";
export { fakeAgentCli, readFakeAgentCalls } from "./fake-agent-cli.js";
export type {
  ChatCompletionsMode,
  ChatCompletionsRequest,
  ChatMessage,
  FakeChatCompletions,
  FakeChatCompletionsOptions,
} from "./fake-chat-completions.js";
export { startFakeChatCompletions } from "./fake-chat-completions.js";
export type {
  FakeGeminiApi,
  FakeGeminiApiOptions,
  GeminiApiMessage,
  GeminiApiMode,
  GeminiApiRequest,
  GeminiFunctionCall,
  GeminiFunctionResponse,
  GeminiReply,
} from "./fake-gemini-api.js";
export { startFakeGeminiApi } from "./fake-gemini-api.js";
export type {
  FakeModelApi,
  FakeModelApiOptions,
  ModelApiMode,
  ModelApiRequest,
  ModelApiUsage,
} from "./fake-model-api.js";
export { startFakeModelApi } from "./fake-model-api.js";
export type { ModelApiBarrier, ModelApiBarrierOptions } from "./fake-model-barrier.js";
export type { FakeModelReply, FakeToolUse } from "./fake-model-tools.js";
export { lastToolResult } from "./fake-model-tools.js";
export type {
  FakeOpenAiResponses,
  FakeOpenAiResponsesOptions,
  ResponsesApiMessage,
  ResponsesApiMode,
  ResponsesApiRequest,
  ResponsesReply,
  ResponsesToolCall,
  ResponsesToolOutput,
} from "./fake-openai-responses.js";
export { startFakeOpenAiResponses } from "./fake-openai-responses.js";
export type { InstallAgentCliOptions, InstallAgentCliProgress, InstallAgentCliResult } from "./install-agent-cli.js";
export { installAgentCli } from "./install-agent-cli.js";
export { startTestPlatform } from "./platform.js";
export type {
  A2aMode,
  AuthVerdict,
  DelegationRow,
  FailureSpec,
  PlatformControl,
  PlatformEvent,
  PlatformEventType,
  PlatformRequest,
  PlatformRoute,
  PlatformWorkspace,
  RecordedBeat,
  RecordedCall,
  RecordedRegister,
  RotateOptions,
  SeedOptions,
  SendMessageOptions,
  TestPlatform,
  TestPlatformOptions,
  WorkspaceStatus,
} from "./platform-types.js";
