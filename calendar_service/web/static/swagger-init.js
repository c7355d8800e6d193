// Starts Swagger UI for /docs. A file rather than an inline script, so /docs keeps the
// pages' Content-Security-Policy (script-src 'self'). validatorUrl: null keeps the UI from
// sending the API description to an online validator.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
