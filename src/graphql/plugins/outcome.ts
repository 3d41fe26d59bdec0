import type { ApolloServerPlugin } from "@apollo/server";
import { isClientErrorCode, OutcomeLabel, ServiceCode } from "../../errors.js";
import type { ServerContext } from "../outcome.js";

/**
 * Records each operation's outcome for the handler: whether the document itself was refused (so the
 * refusal can be remembered), and the first error's code (or ok) once Apollo has formatted the
 * response. formatError gives every error a catalogue code; anything else reads as an internal error.
 */
export const outcomePlugin: ApolloServerPlugin<ServerContext> = {
  async requestDidStart() {
    return {
      async parsingDidStart({ contextValue }) {
        return async (error) => {
          if (error !== undefined) contextValue.outcome.documentRefused = true;
        };
      },
      async validationDidStart({ contextValue }) {
        return async (errors) => {
          if (errors !== undefined && errors.length > 0) contextValue.outcome.documentRefused = true;
        };
      },
      async willSendResponse({ contextValue, response }) {
        if (response.body.kind !== "single") return;
        const errors = response.body.singleResult.errors;
        if (errors === undefined || errors.length === 0) {
          contextValue.outcome.code = OutcomeLabel.OK;
          return;
        }
        const code = errors[0]?.extensions?.code;
        contextValue.outcome.code = isClientErrorCode(code) ? code : ServiceCode.INTERNAL_SERVER_ERROR;
      },
    };
  },
};
