using Microsoft.Extensions.DependencyInjection;

namespace MlModel.Dsl;

/// <summary>Registers the engine with Microsoft's dependency injection.</summary>
public static class MlModelServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="MlModelEngine"/> (a singleton) and its <see cref="MlModelOptions"/>,
    /// configured by <paramref name="configure"/>: set the repository, stores and serving there,
    /// for example <c>o.Repository = new SqliteModelRepository(path)</c>.
    /// </summary>
    public static IServiceCollection AddMlModel(this IServiceCollection services, Action<MlModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddSingleton(_ =>
        {
            var options = new MlModelOptions();
            configure(options);
            return options;
        });
        services.AddSingleton(sp => new MlModelEngine(sp.GetRequiredService<MlModelOptions>()));
        return services;
    }

    /// <summary>Like <see cref="AddMlModel(IServiceCollection, Action{MlModelOptions})"/>, with access to other services.</summary>
    public static IServiceCollection AddMlModel(this IServiceCollection services, Action<IServiceProvider, MlModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddSingleton(sp =>
        {
            var options = new MlModelOptions();
            configure(sp, options);
            return options;
        });
        services.AddSingleton(sp => new MlModelEngine(sp.GetRequiredService<MlModelOptions>()));
        return services;
    }
}
